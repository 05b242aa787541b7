"""Knowing a station's MAC is never enough: a LAN host cannot take over a station the admin just accepted.

The real station is the simulator's JSON-contract firmware (its station key made at first boot); the attacker
sends the same requests with the victim's MAC, with no key or a key of its own, the moment the admin
accepts. `serve` runs as systemd runs it.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from appliance.contract.client import AdminClient
from services.core.tokens import hash_token
from services.domain.onboarding.nvs import NAMESPACE
from services.root.service import StationmasterService
from services.simulator.behaviour import Behaviour
from services.simulator.station import SimulatedStation
from tests.conftest import ServeProcess, make_settings, serving
from tests.hostile.sitestate import capture
from tests.nvsformat import read_partition

PSK = "broome-wifi-secret-42"


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[ServeProcess]:
    async with serving(tmp_path) as serve, AdminClient(serve.socket) as admin:
        await admin.add_wifi("AP1", PSK, priority=10)
        yield serve


async def _post(http: aiohttp.ClientSession, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with http.post(path, json=body) as response:
        return response.status, await response.json()


def _attacker(serve: ServeProcess) -> aiohttp.ClientSession:
    """Another host on the LAN (127.0.0.2: not the appliance's own address)."""
    return aiohttp.ClientSession(base_url=serve.url, connector=aiohttp.TCPConnector(local_addr=("127.0.0.2", 0)))


async def test_a_lan_host_naming_a_newly_accepted_station_gets_nothing_and_the_admin_is_told(
    site: ServeProcess,
) -> None:
    station = SimulatedStation(3, seed=14, chip="esp32", crash_rate=0)
    async with (
        aiohttp.ClientSession(base_url=site.url) as http,
        _attacker(site) as lan,
        AdminClient(site.socket) as admin,
    ):
        assert (await station.check_in(http) or {})["status"] == "pending"  # first contact: its key is pinned
        await admin.accept(station.mac)
        before = capture(site.data_dir, also_skip=("alerts",))
        victim = {"mac": station.mac, "chip": "esp32", "ip": "10.0.0.66"}
        for body in (victim, {**victim, "station_key": "attacker-own-key-0123456789abcdef"}):
            for path in ("/api/v1/checkin", "/api/v1/enrol"):
                status, answer = await _post(lan, path, body)
                assert status == 401, f"the LAN host was answered {answer}"
                assert answer["error"]["code"] == "station_key_mismatch"
                assert "token" not in answer
        status, _ = await _post(lan, "/api/v1/events", {**victim, "events": [{"kind": "message", "message": "x"}]})
        assert status == 401
        async with lan.get("/api/v1/config") as response:
            assert response.status == 401
        assert capture(site.data_dir, also_skip=("alerts",)) == before

        # The admin sees one alert, however many claims came: who holds the key, who was refused and from where.
        (alert,) = [a for a in await admin.alerts() if a["kind"] == "station_claimed_twice"]
        assert f"two devices claim {station.mac}" in alert["message"]
        assert "127.0.0.2" in alert["message"]
        assert alert["data"]["pinned"] == (await admin.station(station.mac))["key_fingerprint"]

        # The real station was never locked out: its next check-in brings its token, then its config.
        came_back = await station.check_in(http)
        assert came_back is not None
        assert "token" in came_back
        assert station.token
        await station.fetch_config(http)
        assert [n["psk"] for n in station.networks] == [PSK]

        # What a LAN host can learn: /metrics is not there for it, and names no station to those it is for.
        async with lan.get("/metrics") as response:
            assert response.status == 404
        async with http.get("/metrics") as response:
            assert station.mac not in await response.text()


async def test_firmware_without_a_key_is_never_handed_a_token_by_a_check_in(site: ServeProcess) -> None:
    keyless = SimulatedStation(4, seed=14, chip="esp32", crash_rate=0, behaviour=Behaviour(no_station_key=True))
    async with aiohttp.ClientSession(base_url=site.url) as http, AdminClient(site.socket) as admin:
        await keyless.check_in(http)
        await admin.accept(keyless.mac)
        # It proves nothing but its MAC, so neither it nor anyone naming it gets the site's secrets.
        for _ in range(2):
            answer = await keyless.check_in(http)
            assert answer is not None
            assert answer["status"] == "accepted"
            assert "token" not in answer
        shown = await admin.station(keyless.mac)
        assert shown["key_fingerprint"] is None
        assert not shown["has_token"]
        # Its firmware updated to one that sends a key: a key first seen after acceptance is not pinned either.
        keyed = dataclasses.replace(keyless.behaviour, no_station_key=False)
        keyless.behaviour = keyed
        answer = await keyless.check_in(http)
        assert answer is not None
        assert "token" not in answer
        # Deleted, it comes back pending with its key pinned at this first contact; accepted, it gets its token.
        await admin.delete_station(keyless.mac)
        assert (await keyless.check_in(http) or {})["status"] == "pending"
        await admin.accept(keyless.mac)
        assert "token" in (await keyless.check_in(http) or {})


async def test_a_claim_on_a_station_still_pending_stays_in_front_of_the_admin(tmp_path: Path) -> None:
    station = SimulatedStation(5, seed=14, chip="esp32", crash_rate=0)
    async with (
        StationmasterService(make_settings(tmp_path)) as service,
        aiohttp.ClientSession(base_url=service.station_url) as http,
        AdminClient(service.settings.admin_socket) as admin,
    ):
        assert service.health_monitor is not None
        await station.check_in(http)
        status, _ = await _post(http, "/api/v1/checkin", {"mac": station.mac})
        assert status == 401
        await service.health_monitor.sweep()  # clears the alerts of stations not in service, but not this one
        assert [a["kind"] for a in await admin.alerts(station=station.mac)] == ["station_claimed_twice"]


async def test_a_board_flashed_anew_makes_a_new_key_and_is_pinned_by_it(tmp_path: Path) -> None:
    mac, old_key, new_key = "24:0A:C4:00:14:09", "old-board-key-0123456789abcdef", "new-board-key-0123456789abcdef"
    async with (
        StationmasterService(make_settings(tmp_path)) as service,
        aiohttp.ClientSession(base_url=service.station_url) as http,
        AdminClient(service.settings.admin_socket) as admin,
    ):
        await admin.add_wifi("AP1", PSK)
        assert (await _post(http, "/api/v1/checkin", {"mac": mac, "station_key": old_key}))[0] == 200
        made = await admin.make_bundle("STA9", "esp32", mac=mac)
        (nvs,) = [base64.b64decode(f["content"]) for f in made["files"] if f["name"].endswith("-nvs.bin")]
        token = read_partition(nvs)[NAMESPACE]["token"].value
        # Flashing the bundle erased the board's NVS: it comes with its token and a key it made anew.
        body = {"mac": mac, "station_key": new_key}
        async with http.post("/api/v1/checkin", json=body, headers={"Authorization": f"Bearer {token}"}) as answer:
            assert answer.status == 200
        assert (await admin.station(mac))["key_fingerprint"] == "SHA256:" + hash_token(new_key)[:16]
        assert (await _post(http, "/api/v1/checkin", {"mac": mac, "station_key": old_key}))[0] == 401
