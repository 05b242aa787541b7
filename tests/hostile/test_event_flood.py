"""Nobody can wipe the event log: station events are limited, and the admin's own trail is kept apart.

Before, a LAN host posted 51,200 events for pending MACs in 3.4 s, and the retention's row cap then kept
50,000 rows, all of them the attacker's: every `wifi_revealed`, accept and assignment was gone. Here the cap
is 200 rows (set by its variable) and `serve` is restarted to run the retention at once.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from appliance.contract.client import AdminClient
from services.domain.fleet.allowance import PER_STATION, WITHOUT_TOKEN
from services.root.service import REGISTRY_FILE
from tests.conftest import ServeProcess, serving
from tests.imagefactory import build_image
from tests.stationkit import accepted

ROWS = 200
STA1 = "24:0A:C4:00:03:01"
PENDING = [f"02:00:00:00:{n >> 8:02X}:{n & 0xFF:02X}" for n in range(300)]
EVENTS = [{"kind": "message", "message": "x" * 256}] * 32
ADMINS_OWN = {"wifi_added", "wifi_revealed", "station_accepted", "image_imported", "image_assigned"}


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[ServeProcess]:
    async with serving(tmp_path, {"STATIONMASTER_EVENT_RETENTION_ROWS": str(ROWS)}) as serve:
        yield serve


def _rows(serve: ServeProcess) -> Counter[bool]:
    db = sqlite3.connect(f"file:{serve.data_dir / REGISTRY_FILE}?mode=ro", uri=True)
    try:
        return Counter(bool(audit) for (audit,) in db.execute("SELECT audit FROM events"))
    finally:
        db.close()


async def test_a_flood_of_station_events_neither_gets_in_nor_pushes_out_the_admins_trail(site: ServeProcess) -> None:
    async with AdminClient(site.socket) as admin, aiohttp.ClientSession(base_url=site.url) as http:
        # The admin's own doings: the trail an attacker would want gone.
        await admin.add_wifi("AP1", "broome-wifi-secret-42")
        await admin.reveal_wifi("AP1")
        token = await accepted(http, admin, STA1)
        image = await admin.import_image(build_image("esp32", project="weather", version="1.0.0"), "w.bin")
        await admin.assign(image["sha256"], station=STA1)
        trail = [e for e in await admin.events(limit=1000) if e["kind"] in ADMINS_OWN]
        assert {e["kind"] for e in trail} == ADMINS_OWN

        # The attack: 300 pending MACs, each reporting as many events as it can, without a token.
        started = time.monotonic()
        answers: Counter[int] = Counter()
        for mac in PENDING:
            async with http.post("/api/v1/checkin", json={"mac": mac}) as response:
                assert response.status == 200
            for _ in range(4):
                async with http.post("/api/v1/events", json={"mac": mac, "events": EVENTS}) as response:
                    answers[response.status] += 1
                    if response.status == 429:
                        assert int(response.headers["Retry-After"]) >= 1
        elapsed = time.monotonic() - started
        stored = len(await admin.events(kind="message", limit=10_000))
        # Everything without a token shares one allowance, whatever the MAC: a burst, then one event every 5 s.
        assert stored <= WITHOUT_TOKEN.burst + elapsed / WITHOUT_TOKEN.every_s + 1
        assert answers[429] >= len(PENDING) * 4 - stored // len(EVENTS)

        # A station with its token has its own allowance: one full report, then it waits its turn.
        bearer = {"Authorization": f"Bearer {token}"}
        async with http.post("/api/v1/events", json={"events": EVENTS}, headers=bearer) as response:
            assert response.status == 202
        async with http.post(
            "/api/v1/events", json={"events": EVENTS[: PER_STATION.burst]}, headers=bearer
        ) as response:
            assert response.status == 429
            assert (await response.json())["error"]["code"] == "too_many_requests"

    # The retention's row cap (run at start) bounds what stations cause; the admin's trail is not theirs to push out.
    assert sum(_rows(site).values()) > ROWS
    assert site.stop() == 0
    await asyncio.to_thread(site.start)
    async with AdminClient(site.socket) as admin:
        kept = [e for e in await admin.events(limit=10_000) if e["kind"] in ADMINS_OWN]
    assert kept == trail
    assert all(e["audit"] for e in kept)
    assert _rows(site)[False] == ROWS
