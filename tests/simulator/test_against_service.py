"""Simulated stations against the real service: accepted, configured, updated, and resuming a broken download."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from appliance.contract.client import AdminClient
from services.root.service import StationmasterService
from services.simulator import Behaviour, SimulatedFleet
from tests.imagefactory import build_image

FAST = 0.2


@pytest.fixture
async def listener(admin: AdminClient) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
    """Every message on the admin event stream from now on."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    connected = asyncio.Event()

    async def listen() -> None:
        async for message in admin.stream_events(on_connect=connected.set):
            queue.put_nowait(message)

    task = asyncio.create_task(listen())
    await asyncio.wait_for(connected.wait(), 5)
    yield queue
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def collect(
    queue: asyncio.Queue[dict[str, Any]], want: Callable[[dict[str, Any]], bool], n: int
) -> list[dict[str, Any]]:
    """Wait (at most 20 s) for `n` stream messages matching `want`."""
    found: list[dict[str, Any]] = []

    async def gather() -> None:
        while len(found) < n:
            message = await queue.get()
            if want(message):
                found.append(message)

    await asyncio.wait_for(gather(), 20)
    return found


async def test_a_fleet_is_accepted_configured_and_updated(
    service: StationmasterService, admin: AdminClient, listener: asyncio.Queue[dict[str, Any]]
) -> None:
    fleet = SimulatedFleet(url=service.station_url, count=6, interval_s=FAST, seed=3, crash_rate=0)
    async with fleet:
        discovered = await collect(listener, lambda m: m["kind"] == "station_discovered", 6)
        for message in discovered:
            await admin.accept(message["mac"])
        await collect(listener, lambda m: m["kind"] == "station_token_issued", 6)
        for chip in ("esp8266", "esp32", "esp32c3"):
            image = await admin.import_image(
                build_image(chip, project="sim-sensor", version="1.1.0"),
                f"{chip}.bin",
                project="sim-sensor",
                version="1.1.0",
            )
            for station in await admin.stations():
                if station["chip"] == chip:
                    await admin.assign(image["sha256"], station=station["mac"])
        changed = await collect(listener, lambda m: m["kind"] == "version_changed", 6)
        assert {m["data"]["version"] for m in changed} == {"1.1.0"}
    assert all(s.token and s.config is not None for s in fleet.stations), "each got a token and its config"
    assert {s["version"] for s in await admin.stations()} == {"1.1.0"}
    assert {s["restart_cause"] for s in await admin.stations()} == {"ota"}
    assert fleet.stats.clean, fleet.stats.last_error


async def test_a_download_cut_midway_resumes_with_range(
    service: StationmasterService, admin: AdminClient, listener: asyncio.Queue[dict[str, Any]]
) -> None:
    fleet = SimulatedFleet(
        url=service.station_url,
        count=1,
        interval_s=FAST,
        seed=4,
        crash_rate=0,
        resume_downloads=True,
        chips=["esp32"],
        behaviours=[Behaviour(fail_download_at=0.4)],
    )
    station = fleet.stations[0]
    async with fleet:
        await collect(listener, lambda m: m["kind"] == "station_discovered", 1)
        await admin.accept(station.mac)
        data = build_image("esp32", project="sim-sensor", version="2.0.0", payload_size=1_000_000)
        image = await admin.import_image(data, "big.bin")
        await admin.assign(image["sha256"], station=station.mac)
        # Only the resumed request starts past byte 0. (Whether the service saw the first one as interrupted
        # depends on how much the loopback socket buffers had already taken when the station hung up.)
        (resumed,) = await collect(listener, lambda m: m["kind"] == "download_finished" and m["data"]["first"] > 0, 1)
        await collect(listener, lambda m: m["kind"] == "version_changed", 1)
    assert 0.4 * len(data) <= resumed["data"]["first"] < len(data), "the second request asked only for the rest"
    assert station.version == "2.0.0"
    assert station.stats.interrupted_downloads == 1
    assert station.stats.clean
