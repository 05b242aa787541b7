"""History stays bounded: sampled on the way in, pruned past its retention."""

from __future__ import annotations

import time

import aiohttp
import aiosqlite

from appliance.contract.client import AdminClient
from services.domain.fleet.retention import RetentionPolicy, prune_once
from services.root.service import StationmasterService
from services.store.journal import Journal

MAC = "24:0A:C4:00:00:09"


async def test_check_in_history_keeps_one_row_per_interval_plus_every_restart(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    for uptime in (100, 110, 120, 130):
        async with http.post("/api/v1/checkin", json={"mac": MAC, "uptime_s": uptime, "rssi": -60}) as response:
            assert response.status == 200
    async with http.post("/api/v1/checkin", json={"mac": MAC, "uptime_s": 2, "restart_cause": "brownout"}) as r:
        assert r.status == 200
    history = await admin.checkins(MAC)
    assert [h["uptime_s"] for h in history] == [2, 100], "the burst is sampled, the restart is kept"
    assert (await admin.station(MAC))["uptime_s"] == 2, "the station's row always holds the latest"


async def test_old_history_is_pruned_and_events_are_capped(service: StationmasterService) -> None:
    assert service.registry is not None
    db = service.registry.db
    now = time.time()
    old, recent = now - 30 * 86400, now - 3600

    async def seed(conn: aiosqlite.Connection) -> None:
        await conn.execute("INSERT INTO stations (mac, name, status, created_at) VALUES (?, 'x', 'pending', 0)", (MAC,))
        for at in (old, recent):
            await conn.execute("INSERT INTO checkins (mac, at) VALUES (?, ?)", (MAC, at))
        await conn.executemany(
            "INSERT INTO events (at, kind, message) VALUES (?, 'message', 'm')",
            [(recent,)] * 30 + [(old - 90 * 86400,)],
        )

    await db.write(seed)
    gone = await prune_once(
        Journal(service.registry, service.bus), RetentionPolicy(checkin_days=14, event_days=90, event_rows=20)
    )
    assert gone["checkins"] == 1
    assert (await db.fetch_one("SELECT count(*) FROM checkins"))[0] == 1  # type: ignore[index]
    assert (await db.fetch_one("SELECT count(*) FROM events"))[0] == 20  # type: ignore[index]
