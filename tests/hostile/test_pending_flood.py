"""Pending stations are capped and expire, and the admin can delete a station with everything that hangs off it.

Before, 3,000 fake MACs in 6 s were all recorded, and nothing ever deleted a station row.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from appliance.contract.client import AdminClient
from services.root.service import REGISTRY_FILE, StationmasterService
from tests.conftest import ServeProcess, make_settings, serving, stationmaster_command
from tests.hostile.sitestate import capture
from tests.imagefactory import build_image
from tests.stationkit import accepted, check_in
from tests.stock_clients import esp32_httpupdate_headers

CAP = 50
REAL = "24:0A:C4:00:04:01"
KEPT = "24:0A:C4:00:04:02"
FAKES = [f"02:AA:00:00:{n >> 8:02X}:{n & 0xFF:02X}" for n in range(600)]
# mDNS's view of the LAN names MACs too, but what it saw is not the station's to take along.
_NOT_THE_STATIONS = ("lan_services",)


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[ServeProcess]:
    async with serving(tmp_path, {"STATIONMASTER_MAX_PENDING_STATIONS": str(CAP)}) as serve:
        yield serve


def _rows_of(serve: ServeProcess, mac: str) -> dict[str, int]:
    """How many rows name `mac` in every table with a MAC column (events: the non-audit ones)."""
    db = sqlite3.connect(f"file:{serve.data_dir / REGISTRY_FILE}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        found = {}
        for table in tables:
            if "mac" not in [r[1] for r in db.execute(f"PRAGMA table_info({table})")] or table in _NOT_THE_STATIONS:
                continue
            # The admin's own events about it stay: they are the audit trail (a registry of before 0010 has none).
            columns = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
            audit = " AND NOT audit" if "audit" in columns else ""
            found[table] = db.execute(f"SELECT count(*) FROM {table} WHERE mac = ?{audit}", (mac,)).fetchone()[0]
        return found
    finally:
        db.close()


async def test_a_flood_of_fake_macs_is_capped_and_the_stations_that_keep_checking_in_stay(site: ServeProcess) -> None:
    async with AdminClient(site.socket) as admin, aiohttp.ClientSession(base_url=site.url) as http:
        await accepted(http, admin, KEPT)
        await check_in(http, REAL)
        await check_in(http, REAL)  # a station seen again, unlike a made-up MAC
        before = capture(site.data_dir, also_skip=("stations", "alerts"))
        for start in range(0, len(FAKES), 100):
            for mac in FAKES[start : start + 100]:
                async with http.post("/api/v1/checkin", json={"mac": mac}) as response:
                    assert response.status == 200
            await check_in(http, REAL)  # the real pending station keeps checking in: it is never dropped

        stations = {s["mac"]: s["status"] for s in await admin.stations()}
        assert sum(status == "pending" for status in stations.values()) == CAP
        assert stations[REAL] == "pending"
        assert stations[KEPT] == "accepted"
        (alert,) = [a for a in await admin.alerts() if a["kind"] == "pending_cap_reached"]
        assert alert["data"]["dropped"] == len(FAKES) - (CAP - 1)
        assert len(await admin.events(mac=REAL, kind="station_discovered")) == 1, "it was never dropped"
        # The dropped stations took their discovery events with them: the log holds what is left, not the flood.
        assert len(await admin.events(kind="station_discovered", limit=10_000)) <= CAP + 1
    assert capture(site.data_dir, also_skip=("stations", "alerts")) == before


async def test_deleting_a_station_takes_everything_that_hangs_off_it(site: ServeProcess) -> None:
    async with AdminClient(site.socket) as admin, aiohttp.ClientSession(base_url=site.url) as http:
        await admin.add_wifi("AP1", "broome-wifi-secret-42")
        token = await accepted(http, admin, REAL)
        await admin.tag(REAL, add=["garden"])
        image = await admin.import_image(build_image("esp32", project="weather", version="2.0.0"), "w.bin")
        await admin.assign(image["sha256"], station=REAL)
        for uptime, rssi in ((500, -90), (3, -90), (60, -91)):  # a restart, and a weak-signal alert
            await check_in(http, REAL, token, uptime_s=uptime, rssi=rssi, reset_reason=7)
        await admin.send_command(REAL, "identify")
        await check_in(http, REAL, token)
        async with http.get("/api/v1/config", headers={"Authorization": f"Bearer {token}"}) as response:
            assert response.status == 200
        await admin.start_rollout(image["sha256"][:12], target={"stations": [REAL]}, waves=[1])
        headers = esp32_httpupdate_headers(sta_mac=REAL, free_space=1_310_720, sketch_size=900_000, sketch_md5=None)
        async with http.get("/ota", headers=headers) as response:
            assert response.status == 200
            await response.read()
        await check_in(http, REAL, token, rssi=-60)  # "still here": held in memory, written within a minute
        had = _rows_of(site, REAL)
        trail = capture(site.data_dir).audit

        env = {**os.environ, "STATIONMASTER_ADMIN_SOCKET": str(site.socket)}
        deleted = await asyncio.to_thread(
            subprocess.run,
            stationmaster_command("stations", "delete", REAL),
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert deleted.returncode == 0, deleted.stderr
        assert "deleted" in deleted.stdout
    assert site.stop() == 0  # writes whatever check-ins were held: none of the deleted station's come back
    assert {table for table, n in had.items() if n} >= {
        "stations", "station_tags", "assignments", "checkins", "restarts", "restart_counts", "alerts",
        "commands", "station_config", "rollout_stations", "transfers", "events",
    }  # fmt: skip
    assert set(_rows_of(site, REAL).values()) == {0}
    after = capture(site.data_dir).audit
    assert after[: len(trail)] == trail
    assert [kind for _, kind, _, _ in after[len(trail) :]] == ["station_deleted"]


async def test_what_memory_holds_of_a_deleted_station_goes_with_it(tmp_path: Path) -> None:
    async with (
        StationmasterService(make_settings(tmp_path)) as service,
        aiohttp.ClientSession(base_url=service.station_url) as http,
        AdminClient(service.settings.admin_socket) as admin,
    ):
        assert service.registry is not None
        assert service.reports is not None
        assert service.rollouts is not None
        token = await accepted(http, admin, REAL)
        image = await admin.import_image(build_image("esp32", project="weather", version="2.0.0"), "w.bin")
        await admin.start_rollout(image["sha256"][:12], target={"stations": [REAL]}, waves=[1])
        service.reports.cadence.seen(REAL, 60.0, None)
        await check_in(http, REAL, token)
        assert service.rollouts.holds(REAL)
        assert service.reports.cadence.knows(REAL)
        await admin.delete_station(REAL)
        assert service.registry.checkin_buffer.get(REAL) is None
        assert not service.rollouts.holds(REAL)
        assert not service.reports.cadence.knows(REAL)


async def test_a_pending_station_unseen_for_days_expires(tmp_path: Path) -> None:
    now = [1_800_000_000.0]
    settings = make_settings(tmp_path, pending_expiry_days=7)
    async with (
        StationmasterService(settings, clock=lambda: now[0]) as service,
        aiohttp.ClientSession(base_url=service.station_url) as http,
        AdminClient(settings.admin_socket) as admin,
    ):
        assert service.removal is not None
        await check_in(http, REAL)
        await accepted(http, admin, KEPT)
        now[0] += 6 * 86400
        assert await service.removal.expire() == 0
        now[0] += 2 * 86400
        assert await service.removal.expire() == 1
        assert [s["mac"] for s in await admin.stations()] == [KEPT]
        (expired,) = await admin.events(kind="pending_expired")
        assert REAL in expired["message"]
