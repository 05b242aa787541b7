"""The claim road: a station that checks in without a token waits as pending; the admin accepts or rejects it."""

from __future__ import annotations

from typing import Any

import aiohttp

from appliance.contract.client import AdminClient
from services.root.service import StationmasterService
from tests.onboarding.cli import stationmaster
from tests.stationkit import station_key
from tui.onboarding import ROADS

STA1 = "24:0A:C4:00:00:01"
REPORT = {
    "mac": STA1,
    "chip": "esp32",
    "project": "weather",
    "version": "1.0.0",
    "ip": "192.168.1.41",
    "station_key": station_key(STA1),
}


async def check_in(http: aiohttp.ClientSession, token: str | None = None, **fields: Any) -> tuple[int, Any]:
    """One check-in of STA1."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.post("/api/v1/checkin", json={**REPORT, **fields}, headers=headers) as response:
        return response.status, await response.json()


async def test_a_tokenless_station_waits_as_pending_with_what_it_sent(
    service: StationmasterService, http: aiohttp.ClientSession
) -> None:
    status, answer = await check_in(http)
    assert (status, answer["status"], "token" in answer) == (200, "pending", False)
    shown = await stationmaster(service.settings.admin_socket, "onboard", "pending")
    assert shown.code == 0, shown.stderr
    assert shown.stdout.splitlines()[2].split()[:5] == [STA1, "esp32", "weather", "1.0.0", "192.168.1.41"]
    overview = await stationmaster(service.settings.admin_socket, "onboard")
    assert STA1 in overview.stdout
    roads = overview.stdout.splitlines()[0].lower()
    for road in ROADS:  # every road this version has, as the TUI's Onboarding tab shows them
        assert road.TITLE.lower() in roads


async def test_accepting_issues_a_token_at_the_next_check_in_once(
    service: StationmasterService, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    await check_in(http)
    accepted = await stationmaster(service.settings.admin_socket, "onboard", "accept", STA1)
    assert accepted.code == 0, accepted.stderr
    # Firmware that never keeps its token (a generic build) is handed one at each check-in, logged once.
    tokens = [(await check_in(http))[1]["token"] for _ in range(3)]
    assert len(set(tokens)) == 3
    assert len(await admin.events(kind="station_token_issued")) == 1
    status, answer = await check_in(http, tokens[-1])
    assert (status, answer["status"], "token" in answer) == (200, "accepted", False)
    again = await stationmaster(service.settings.admin_socket, "onboard", "accept", STA1)
    assert (again.code, "not pending" in again.stderr) == (2, True)


async def test_rejecting_turns_it_away_everywhere(service: StationmasterService, http: aiohttp.ClientSession) -> None:
    await check_in(http)
    rejected = await stationmaster(service.settings.admin_socket, "onboard", "reject", STA1)
    assert rejected.code == 0, rejected.stderr
    assert (await check_in(http))[0] == 403
    async with http.post("/api/v1/enrol", json=REPORT) as response:
        assert response.status == 403
    async with http.get("/ota", headers={"x-ESP32-STA-MAC": STA1, "User-Agent": "ESP32-http-Update"}) as response:
        assert response.status == 403


async def test_an_accepted_station_keeps_the_history_it_made_while_pending(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    await check_in(http, uptime_s=500, rssi=-70)
    await check_in(http, uptime_s=4, rssi=-82, restart_cause="brownout")  # a restart: always a history row
    before = await admin.checkins(STA1)
    assert len(before) == 2
    await admin.accept(STA1)
    token = (await check_in(http, uptime_s=30))[1]["token"]
    await check_in(http, token, uptime_s=2, restart_cause="watchdog")
    history = await admin.checkins(STA1)
    assert history[-2:] == before, "the check-ins from its pending days are still there"
    assert history[0]["restart_cause"] == "watchdog", "and it goes on as an accepted station"
    kinds = [e["kind"] for e in await admin.events(mac=STA1)]
    assert {"station_discovered", "station_restarted", "station_accepted", "station_token_issued"} <= set(kinds)


async def test_two_stations_whose_macs_end_alike_never_share_a_name(
    service: StationmasterService, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    # Both MACs end in 00:00:01, which the default name is made of: the second used to be "esp-000001" too,
    # and claiming both left two stations the admin could not tell apart.
    twin, third = "34:85:18:00:00:01", "34:0A:C4:00:00:01"
    await check_in(http)
    await check_in(http, mac=twin, chip="esp32c3")
    await admin.rename(twin, "esp-340ac4000001")  # the admin's own choice takes the third one's whole-MAC name
    await check_in(http, mac=third)
    for mac in (STA1, twin, third):
        accepted = await stationmaster(service.settings.admin_socket, "onboard", "accept", mac)
        assert accepted.code == 0, accepted.stderr
    names = {s["mac"]: s["name"] for s in await admin.stations()}
    assert names == {STA1: "esp-000001", twin: "esp-340ac4000001", third: "esp-340ac4000001-2"}
