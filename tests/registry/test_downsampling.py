"""Old history is summarised (raw samples by hour, hours by day) and "still here" check-ins are written together."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
import aiosqlite

from appliance.contract.client import AdminClient
from services.domain.fleet.retention import RetentionPolicy, prune_once
from services.root.service import StationmasterService
from services.store.journal import Journal
from tests.conftest import loose, make_settings
from tests.stationkit import accepted, check_in

MAC = "24:0A:C4:00:00:51"
DAY, HOUR = 86400.0, 3600.0
NOW = 1_800_000_000.0  # a fixed clock: whole hours and days fall where the test says
POLICY = RetentionPolicy(checkin_days=3, hourly_days=14, daily_days=365)


async def _count(service: StationmasterService, sql: str) -> int:
    assert service.registry is not None
    row = await service.registry.db.fetch_one(sql)
    assert row is not None
    return int(row[0])


async def test_raw_samples_become_hourly_then_daily_summaries_then_go(
    service: StationmasterService, admin: AdminClient
) -> None:
    assert service.registry is not None
    hour = NOW - 5 * DAY - (NOW % HOUR)  # the start of an hour five days back: past the raw retention
    samples = [
        (hour + 300 * i, -60 - i, 100_000 + 1000 * i, 1000 + 300 * i, "1.0" if i < 11 else "1.1") for i in range(12)
    ]
    recent = NOW - DAY

    async def seed(conn: aiosqlite.Connection) -> None:
        await conn.execute(
            "INSERT INTO stations (mac, name, status, created_at) VALUES (?, 'x', 'accepted', 0)", (MAC,)
        )
        await conn.executemany(
            "INSERT INTO checkins (mac, at, rssi, free_heap, uptime_s, version) VALUES (?, ?, ?, ?, ?, ?)",
            [(MAC, *s) for s in samples] + [(MAC, recent, -50, 1, 1, "1.1")],
        )
        # Twenty days old: hourly summaries due to become one daily; 400 days: past every retention.
        old_day = NOW - 20 * DAY - (NOW % DAY)
        rows = [(MAC, 3600, old_day + h * HOUR, 12, -70 - h, -60, -65.0, 50_000 + h, 1000 * h, "0.9") for h in range(3)]
        rows.append((MAC, 86400, NOW - 400 * DAY, 288, -80, -50, -60.0, 1, 1, "0.1"))
        await conn.executemany("INSERT INTO checkin_rollups VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    await service.registry.db.write(seed)
    gone = await prune_once(Journal(service.registry, service.bus, clock=lambda: NOW), POLICY)
    assert (gone["checkins"], gone["hourly"], gone["daily"]) == (12, 3, 1)

    [hourly] = await admin.rollups(MAC, "hour")
    assert hourly["start"] == hour
    assert hourly["samples"] == 12
    assert (hourly["rssi_min"], hourly["rssi_max"], hourly["rssi_avg"]) == (-71, -60, -65.5)
    assert (hourly["heap_min"], hourly["uptime_max"], hourly["version"]) == (100_000, 4300, "1.1")
    [daily] = await admin.rollups(MAC, "day")
    assert (daily["samples"], daily["rssi_min"], daily["rssi_max"], daily["heap_min"]) == (36, -72, -60, 50_000)
    assert daily["rssi_avg"] == -65.0
    assert [c["at"] for c in await admin.checkins(MAC)] == [recent], "the last days stay at full resolution"


async def test_an_hour_cut_in_two_by_the_retention_is_summarised_once(service: StationmasterService) -> None:
    assert service.registry is not None
    hour = NOW - 4 * DAY - (NOW % HOUR)

    async def seed(conn: aiosqlite.Connection) -> None:
        await conn.execute(
            "INSERT INTO stations (mac, name, status, created_at) VALUES (?, 'x', 'accepted', 0)", (MAC,)
        )
        await conn.executemany(
            "INSERT INTO checkins (mac, at, rssi) VALUES (?, ?, ?)", [(MAC, hour + 600 * i, -60 - i) for i in range(6)]
        )

    await service.registry.db.write(seed)
    # The raw retention's edge falls in the middle of that hour, then moves past it an hour later.
    cut = hour + 1800 + 3 * DAY
    await prune_once(Journal(service.registry, service.bus, clock=lambda: cut), POLICY)
    await prune_once(Journal(service.registry, service.bus, clock=lambda: cut + HOUR), POLICY)
    rows = await service.registry.health.rollups(MAC, 3600)
    assert [(r["samples"], r["rssi_min"], r["rssi_max"], r["rssi_avg"]) for r in rows] == [(6, -65, -60, -62.5)]


async def test_still_here_check_ins_wait_in_memory_and_anything_else_is_written_at_once(
    service: StationmasterService, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    assert service.registry is not None
    assert service.coalescer is not None
    db = service.registry.db
    token = await accepted(http, admin, MAC, uptime_s=100)
    commits = db.commits
    for step in range(1, 21):
        await check_in(http, MAC, token, uptime_s=100 + step, rssi=-60 - step % 5)
    assert db.commits == commits, "twenty check-ins that change nothing but the signal wrote nothing yet"
    station = await admin.station(MAC)
    assert (station["uptime_s"], station["rssi"], station["state"]) == (120, -60, "online"), "yet reads see them"
    row = await db.fetch_one("SELECT uptime_s FROM stations WHERE mac = ?", (MAC,))
    assert row is not None
    assert row["uptime_s"] == 100
    await check_in(http, MAC, token, uptime_s=121, ip="10.0.0.9")
    assert db.commits == commits + 1, "a new address is written before the answer"
    row = await db.fetch_one("SELECT uptime_s, ip FROM stations WHERE mac = ?", (MAC,))
    assert row is not None
    assert (row["uptime_s"], row["ip"]) == (121, "10.0.0.9")
    await check_in(http, MAC, token, uptime_s=122, ip="10.0.0.9")
    await service.coalescer.flush()
    row = await db.fetch_one("SELECT uptime_s FROM stations WHERE mac = ?", (MAC,))
    assert row is not None
    assert row["uptime_s"] == 122


async def test_held_check_ins_are_written_when_the_service_stops(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    async with StationmasterService(settings) as service, AdminClient(settings.admin_socket) as admin:
        async with aiohttp.ClientSession(base_url=service.station_url) as http:
            token = await accepted(http, admin, MAC, uptime_s=100)
            await check_in(http, MAC, token, uptime_s=4321, rssi=-71)
        assert service.registry is not None
        held_at = loose(await admin.station(MAC))["last_seen_at"]
    async with StationmasterService(settings) as service, AdminClient(settings.admin_socket) as admin:
        station = await admin.station(MAC)
        assert (station["uptime_s"], station["rssi"], station["last_seen_at"]) == (4321, -71, held_at)
        assert time.time() - held_at < 60


async def test_a_station_repeating_the_config_it_applied_is_still_held(
    service: StationmasterService, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    assert service.registry is not None
    token = await accepted(http, admin, MAC)
    async with http.get("/api/v1/config", headers={"Authorization": f"Bearer {token}"}) as response:
        etag = response.headers["ETag"]
    await check_in(http, MAC, token, config_etag=etag)  # the first report of it is news: written
    commits = service.registry.db.commits
    for step in range(5):
        await check_in(http, MAC, token, config_etag=etag, uptime_s=200 + step)
    assert service.registry.db.commits == commits, "the same applied config again changes nothing"
