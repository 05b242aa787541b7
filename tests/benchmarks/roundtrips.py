"""SQLite round trips per request kind: what each kind of check-in and poll costs the registry.

Counted in this process on a real service (its registry's statements on the reader and its commits), each
kind sent several times to a station in the state it names, after one request that brings it there.
"""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from appliance.contract.client import AdminClient
from services.root.service import StationmasterService
from tests.conftest import make_settings
from tests.imagefactory import build_image
from tests.stationkit import station_key
from tests.stock_clients import esp32_httpupdate_headers, esp8266_httpupdate_headers

REPEATS = 20


async def round_trips() -> list[tuple[str, float, float]]:
    """(kind, reads, commits) per request, each an average over REPEATS requests."""
    with tempfile.TemporaryDirectory() as scratch:
        async with (
            StationmasterService(make_settings(Path(scratch))) as service,
            aiohttp.ClientSession(service.station_url) as http,
            AdminClient(service.settings.admin_socket) as admin,
        ):
            db = service.registry.db
            counted: list[tuple[str, float, float]] = []

            async def count(kind: str, send: Callable[[int], Awaitable[Any]]) -> None:
                before = db.queries, db.commits
                for n in range(REPEATS):
                    await send(n)
                counted.append((kind, (db.queries - before[0]) / REPEATS, (db.commits - before[1]) / REPEATS))

            async def check_in(mac: str, n: int, token: str | None = None, **fields: Any) -> dict[str, Any]:
                body = {"mac": mac, "chip": "esp32", "rssi": -60, "uptime_s": 100 + n, "version": "1.0.0", **fields}
                if token is None:
                    body["station_key"] = station_key(mac)
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                async with http.post("/api/v1/checkin", json=body, headers=headers) as answer:
                    assert answer.status == 200, await answer.text()
                    result: dict[str, Any] = await answer.json()
                    return result

            def new_mac(n: int) -> str:
                return f"02:0F:00:00:{n >> 8:02X}:{n & 255:02X}"

            await count("check-in, a new station (its first contact)", lambda n: check_in(new_mac(n), n))
            await count("check-in, pending, still here", lambda n: check_in(new_mac(0), n))
            accepted = "02:0F:00:01:00:01"
            await check_in(accepted, 0)
            await admin.accept(accepted)
            token = str((await check_in(accepted, 1))["token"])
            await check_in(accepted, 2, token)
            await count("check-in, accepted, with its token, still here", lambda n: check_in(accepted, 3 + n, token))
            await count(
                "check-in, accepted, a new version each time",
                lambda n: check_in(accepted, 100 + n, token, version=f"1.1.{n}"),
            )
            stock = "5C:CF:7F:0F:00:01"
            await _poll(http, stock)
            await admin.accept(stock)
            await _poll(http, stock)

            async def poll(_: int) -> None:
                await _poll(http, stock)

            await count("poll of /ota, accepted stock station, nothing to offer", poll)
            await _downloads(admin, http, count)
            return counted


async def _downloads(
    admin: AdminClient,
    http: aiohttp.ClientSession,
    count: Callable[[str, Callable[[int], Awaitable[Any]]], Awaitable[None]],
) -> None:
    """Stock ESP32 stations that have polled before (nothing to offer) each download a newly assigned image."""
    macs = [f"24:0A:C4:0F:00:{n:02X}" for n in range(REPEATS)]
    for mac in macs:
        await _esp32_poll(http, mac, 304)
        await admin.accept(mac)
        await admin.tag(mac, add=["download"])
        await admin.set_chip(mac, "esp32")
        await _esp32_poll(http, mac, 304)
    image = build_image("esp32", project="counted", version="2.0.0", payload_size=200_000)
    await admin.assign((await admin.import_image(image, "counted.bin"))["sha256"], tag="download")

    async def download(n: int) -> None:
        await _esp32_poll(http, macs[n], 200)

    await count("poll of /ota, accepted stock station, an image offered and downloaded", download)


async def _esp32_poll(http: aiohttp.ClientSession, mac: str, status: int) -> None:
    headers = esp32_httpupdate_headers(sta_mac=mac, free_space=1 << 21, sketch_size=300_000, sketch_md5="0" * 32)
    async with http.get("/ota", headers=headers) as answer:
        assert answer.status == status, await answer.text()
        await answer.read()


async def _poll(http: aiohttp.ClientSession, mac: str) -> None:
    headers = esp8266_httpupdate_headers(sta_mac=mac, free_space=1 << 20, sketch_size=300_000, sketch_md5="0" * 32)
    async with http.get("/ota", headers=headers) as answer:
        assert answer.status == 304
