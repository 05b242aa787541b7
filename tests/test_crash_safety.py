"""A power cut (SIGKILL) mid-import and mid-burst loses no acknowledged write and leaves no partial image."""

from __future__ import annotations

import asyncio
import hashlib
import random
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from services.service import FIRMWARE_DIR, REGISTRY_FILE
from tests.conftest import ServeProcess
from tests.imagefactory import build_image

ROUNDS = 4


async def _burst(url: str, round_no: int, acknowledged: list[str]) -> None:
    """Check in as many new stations as possible until the service dies; note each acknowledged MAC."""
    async with aiohttp.ClientSession(url) as session:
        for index in range(100_000):
            mac = f"02:00:00:{round_no:02X}:{index >> 8 & 0xFF:02X}:{index & 0xFF:02X}"
            try:
                async with session.post("/api/v1/checkin", json={"mac": mac, "rssi": -60}) as response:
                    if response.status == 200:
                        acknowledged.append(mac)
            except aiohttp.ClientError:
                return


async def _imports(socket: Path, images: list[bytes]) -> None:
    """Upload images over the admin socket until the service dies."""
    async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(socket))) as session:
        for data in images * 50:
            try:
                async with session.post("http://admin/v1/firmware", data=data) as response:
                    await response.read()
            except aiohttp.ClientError:
                return


async def _load_then_kill(serve: ServeProcess, round_no: int, images: list[bytes], delay: float) -> list[str]:
    acknowledged: list[str] = []
    load = [
        asyncio.create_task(_burst(serve.url, round_no, acknowledged)),
        asyncio.create_task(_burst(serve.url, round_no + 0x40, acknowledged)),
        asyncio.create_task(_imports(serve.socket, images)),
    ]
    await asyncio.sleep(delay)  # a random moment under load: the point is not to choose it
    await asyncio.to_thread(serve.kill)
    await asyncio.gather(*load)
    return acknowledged


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
        await asyncio.to_thread(serve.start)
        acknowledged = await _load_then_kill(serve, round_no, images, rng.uniform(0.3, 1.5))
        db = sqlite3.connect(serve.data_dir / REGISTRY_FILE)
        try:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            stored = {row[0] for row in db.execute("SELECT mac FROM stations")}
            image_rows = db.execute("SELECT sha256, size FROM images").fetchall()
        finally:
            db.close()
        assert acknowledged, "the burst reached the service"
        missing = [mac for mac in acknowledged if mac not in stored]
        assert not missing, f"{len(missing)} acknowledged check-ins were lost"
        _assert_store_holds_only_whole_images(serve.data_dir / FIRMWARE_DIR)
        for sha256, size in image_rows:
            path = serve.data_dir / FIRMWARE_DIR / sha256[:2] / sha256
            assert path.stat().st_size == size, "every recorded image is in the store"
    # After the last kill the service starts cleanly and sweeps any leftover temporary file.
    await asyncio.to_thread(serve.start)
    leftovers = [p for p in (serve.data_dir / FIRMWARE_DIR).rglob(".*") if p.is_file()]
    assert serve.stop() == 0
    assert leftovers == []
