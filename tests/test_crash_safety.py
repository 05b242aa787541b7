"""A power cut (SIGKILL) at a random moment under load loses no acknowledged write and leaves no partial image.

One exception, by design and documented: with the default `checkin_flush_interval_s` (60 s) a check-in that
changes nothing but a station's signal, uptime and heap ("still here") is answered from memory and written
with the others once a minute, to spare the SD card; a power cut loses at most that minute of such figures.
Rounds alternate between the default and `checkin_flush_interval_s = 0`, where every acknowledged check-in
must survive.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from services.root.service import FIRMWARE_DIR, REGISTRY_FILE
from tests.conftest import ServeProcess
from tests.imagefactory import build_image

ROUNDS = 4


@dataclass
class Acknowledged:
    """Everything the service said it had stored before it died."""

    new_stations: list[str] = field(default_factory=list)
    uptimes: dict[str, int] = field(default_factory=dict)  # a regular station's last acknowledged uptime
    events: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)


async def _new_stations(url: str, prefix: int, acked: Acknowledged) -> None:
    """Check in as many new stations as possible until the service dies."""
    async with aiohttp.ClientSession(url) as session:
        for index in range(100_000):
            mac = f"02:00:00:{prefix:02X}:{index >> 8 & 0xFF:02X}:{index & 0xFF:02X}"
            try:
                async with session.post("/api/v1/checkin", json={"mac": mac, "rssi": -60}) as response:
                    if response.status == 200:
                        acked.new_stations.append(mac)
            except aiohttp.ClientError:
                return


async def _regulars(url: str, round_no: int, acked: Acknowledged) -> None:
    """The same stations check in again and again (each an update of a row) and report events."""
    macs = [f"02:AA:00:00:00:{n:02X}" for n in range(20)]
    async with aiohttp.ClientSession(url) as session:
        for beat in range(1, 100_000):
            mac = macs[beat % len(macs)]
            uptime = round_no * 1_000_000 + beat
            try:
                async with session.post("/api/v1/checkin", json={"mac": mac, "uptime_s": uptime}) as response:
                    if response.status == 200:
                        acked.uptimes[mac] = uptime
                message = f"round {round_no} beat {beat}"
                body = {"mac": mac, "events": [{"kind": "message", "message": message}]}
                async with session.post("/api/v1/events", json=body) as response:
                    if response.status == 202:
                        acked.events.append(message)
            except aiohttp.ClientError:
                return


async def _imports(socket: Path, images: list[bytes], acked: Acknowledged) -> None:
    """Upload images over the admin socket until the service dies."""
    async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(socket))) as session:
        for data in images * 50:
            try:
                async with session.post("http://admin/v1/firmware", data=data) as response:
                    if response.status in (200, 201):
                        acked.images.append((await response.json())["sha256"])
            except aiohttp.ClientError:
                return


async def _load_then_kill(serve: ServeProcess, round_no: int, images: list[bytes], delay: float) -> Acknowledged:
    acked = Acknowledged()
    load = [
        asyncio.create_task(_new_stations(serve.url, round_no, acked)),
        asyncio.create_task(_new_stations(serve.url, round_no + 0x40, acked)),
        asyncio.create_task(_regulars(serve.url, round_no, acked)),
        asyncio.create_task(_imports(serve.socket, images, acked)),
    ]
    await asyncio.sleep(delay)  # a random moment under load: the point is not to choose it
    await asyncio.to_thread(serve.kill)
    await asyncio.gather(*load)
    return acked


def _assert_store_holds_only_whole_images(store: Path) -> None:
    for path in store.rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name, f"partial image at {path}"


@pytest.mark.slow
async def test_sigkill_under_load_keeps_the_registry_and_store_whole(tmp_path: Path) -> None:
    rng = random.Random(7)
    images = [
        build_image(chip, version=f"2.{n}.0", payload_size=3 * 1024 * 1024, seed=n)
        for n, chip in enumerate(("esp32", "esp32c3", "esp8266"))
    ]
    serve = ServeProcess(tmp_path)
    for round_no in range(ROUNDS):
        every_checkin_at_once = round_no % 2 == 1
        serve.extra_env = {"STATIONMASTER_CHECKIN_FLUSH_INTERVAL_S": "0"} if every_checkin_at_once else {}
        await asyncio.to_thread(serve.start)
        acked = await _load_then_kill(serve, round_no, images, rng.uniform(0.3, 1.5))
        db = sqlite3.connect(serve.data_dir / REGISTRY_FILE)
        try:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            stored = {row[0] for row in db.execute("SELECT mac FROM stations")}
            uptimes = dict(db.execute("SELECT mac, uptime_s FROM stations WHERE mac LIKE '02:AA:%'").fetchall())
            events = {row[0] for row in db.execute("SELECT message FROM events WHERE kind = 'message'")}
            image_rows = db.execute("SELECT sha256, size FROM images").fetchall()
        finally:
            db.close()
        assert acked.new_stations, "the burst reached the service"
        assert acked.uptimes, "and so did the regulars"
        assert acked.events, "and their events"
        missing = [mac for mac in acked.new_stations if mac not in stored]
        assert not missing, f"{len(missing)} acknowledged check-ins of new stations were lost"
        assert set(acked.uptimes) <= set(stored), "every regular's first check-in (a new station) is kept"
        if every_checkin_at_once:
            stale = {mac: (uptimes.get(mac), up) for mac, up in acked.uptimes.items() if (uptimes.get(mac) or 0) < up}
            assert not stale, f"acknowledged check-ins lost (stored, acknowledged): {stale}"
        assert set(acked.events) <= events, "acknowledged station events were lost"
        assert set(acked.images) <= {sha256 for sha256, _ in image_rows}, "acknowledged imports were lost"
        _assert_store_holds_only_whole_images(serve.data_dir / FIRMWARE_DIR)
        for sha256, size in image_rows:
            path = serve.data_dir / FIRMWARE_DIR / sha256[:2] / sha256
            assert path.stat().st_size == size, "every recorded image is in the store"
    # After the last kill the service starts cleanly and sweeps any leftover temporary file.
    await asyncio.to_thread(serve.start)
    leftovers = [p for p in (serve.data_dir / FIRMWARE_DIR).rglob(".*") if p.is_file()]
    assert serve.stop() == 0
    assert leftovers == []
