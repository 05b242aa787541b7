"""`stationmaster rollout ...` as a process against a real service: tables for people, JSON for scripts."""

from __future__ import annotations

import json

import aiohttp
import pytest

from appliance.cli.rollout_commands import duration
from appliance.contract.client import AdminClient
from services.root.service import StationmasterService
from tests.cli.test_exit_codes import stationmaster
from tests.imagefactory import build_image

MACS = ["24:0A:C4:00:30:01", "24:0A:C4:00:30:02", "24:0A:C4:00:30:03"]


async def fleet(http: aiohttp.ClientSession, admin: AdminClient) -> str:
    """Three accepted ESP32 stations on 1.0.0, the third critical; returns the SHA-256 of 1.1.0."""
    for index, mac in enumerate(MACS):
        body = {"mac": mac, "chip": "esp32", "version": "1.0.0", "rssi": -60 - index, "bssid": "0A:00:00:00:00:01"}
        async with http.post("/api/v1/checkin", json=body) as answer:
            assert answer.status == 200
        await admin.accept(mac)
    await admin.tag(MACS[2], add=["critical"])
    image = await admin.import_image(build_image("esp32", project="weather", version="1.1.0"), "weather.bin")
    return str(image["sha256"])


async def test_start_watch_steer_and_approve(
    service: StationmasterService, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    socket = service.settings.admin_socket
    sha256 = await fleet(http, admin)
    started = await stationmaster(
        socket, "rollout", "start", sha256[:10], "--waves", "1,rest", "--soak", "10m", "--timeout", "1h", "--json"
    )
    assert started.code == 0, started.stderr
    body = json.loads(started.stdout)
    assert (body["id"], body["state"], body["settings"]["soak_s"], body["settings"]["timeout_s"]) == (
        1,
        "running",
        600.0,
        3600.0,
    )
    assert [w["size"] for w in body["waves"]] == [1, 2]

    listed = await stationmaster(socket, "rollout")
    assert listed.code == 0, listed.stderr
    assert listed.stdout.splitlines()[0].split() == ["ID", "NAME", "CHIP", "STATE", "WAVE", "STATIONS", "STARTED"]
    assert "weather 1.1.0  esp32  running  1/2" in listed.stdout
    assert "1 initiated, 2 queued" in listed.stdout

    shown = await stationmaster(socket, "rollout", "status", "1")
    assert shown.code == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == "rollout 1: weather 1.1.0 for esp32, running"
    assert lines[1].startswith("  soak 10 min, time-out 1.0 h, a wave fails past 10 %, signal at least -75 dBm")
    assert "  wave 1: running      1 station(s): 1 initiated" in lines
    assert "  wave 2: pending      2 station(s): 2 queued" in lines
    critical = next(line for line in lines if MACS[2] in line)
    assert "queued (critical)" in critical

    paused = await stationmaster(socket, "rollout", "pause", "1")
    assert paused.code == 0, paused.stderr
    assert paused.stdout.splitlines()[0].endswith(", paused")
    again = await stationmaster(socket, "rollout", "pause", "1")
    assert (again.code, again.stderr.strip()) == (1, "error: rollout 1 is paused: cannot pause it")
    assert (await stationmaster(socket, "rollout", "resume", "1", "--json")).code == 0

    approved = await stationmaster(socket, "rollout", "approve", "1", "--json")
    assert approved.code == 0, approved.stderr
    rows = {s["mac"]: s for s in json.loads(approved.stdout)["stations"]}
    assert rows[MACS[2]]["approved"] is True
    assert not rows[MACS[0]]["approved"], "approving with no MAC approves the critical ones"

    cancelled = await stationmaster(socket, "rollout", "cancel", "1")
    assert cancelled.code == 0, cancelled.stderr
    assert (await admin.rollout(1))["state"] == "cancelled"


async def test_refusals_and_bad_usage_say_why(
    service: StationmasterService, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    socket = service.settings.admin_socket
    await fleet(http, admin)
    unknown = await stationmaster(socket, "rollout", "start", "abcdef123")
    assert (unknown.code, unknown.stderr.strip()) == (1, "error: no image whose SHA-256 starts with abcdef123")
    missing = await stationmaster(socket, "rollout", "status", "7")
    assert (missing.code, missing.stderr.strip()) == (1, "error: no rollout 7")
    bad = await stationmaster(socket, "rollout", "start", "abcdef123", "--soak", "soon")
    assert bad.code == 2
    assert "'soon' is not a duration such as 90, 90s, 10m or 1h30m" in bad.stderr
    empty = await stationmaster(socket, "rollout")
    assert empty.code == 0
    assert empty.stdout.strip() == "no rollouts yet: start one with `stationmaster rollout start IMAGE`"


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("10m", 600), ("1h30m", 5400), ("0.5", 0.5)])
def test_durations(text: str, seconds: float) -> None:
    assert duration(text) == seconds
