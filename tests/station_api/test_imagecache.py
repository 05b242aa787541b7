"""The image cache reads the SD card once per image, and lets go of an image once nobody asks for it."""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path

import pytest

from services.firmware.store import FirmwareStore
from services.station_api.imagecache import CorruptStoredImage, ImageCache
from tests.imagefactory import build_image


class Clock:
    """Time the test moves by hand, so that "five minutes later" takes no five minutes."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _stored(tmp_path: Path, version: str) -> tuple[str, Path, bytes]:
    data = build_image("esp32", version=version, payload_size=64 * 1024)
    path = FirmwareStore(tmp_path).put(data)
    return hashlib.sha256(data).hexdigest(), path, data


async def test_an_image_nobody_asks_for_is_let_go_and_read_again_when_asked(tmp_path: Path) -> None:
    clock = Clock()
    cache = ImageCache(idle_s=300, clock=clock)
    (old, old_path, old_data), (new, new_path, new_data) = _stored(tmp_path, "1.0"), _stored(tmp_path, "2.0")
    assert await cache.get(old, old_path) == old_data
    clock.now = 100
    assert await cache.get(new, new_path) == new_data
    assert cache.held_bytes == len(old_data) + len(new_data)
    clock.now = 350  # the old release was last taken 350 s ago, the new one 250 s ago
    assert await cache.get(new, new_path) == new_data
    assert cache.held_bytes == len(new_data), "the old image is let go"
    old_path.write_bytes(old_data[:-1] + b"\x00")  # the card rots meanwhile: the next read must notice
    with pytest.raises(CorruptStoredImage):
        await cache.get(old, old_path)


async def test_a_cache_hit_reads_nothing_and_the_size_bound_holds(tmp_path: Path) -> None:
    images = [_stored(tmp_path, f"1.{n}") for n in range(3)]
    cache = ImageCache(max_bytes=2 * len(images[0][2]) + 100)
    for sha256, path, data in images[:2]:
        assert await cache.get(sha256, path) == data
    images[0][1].unlink()  # cached: served without touching the store
    assert await cache.get(images[0][0], images[0][1]) == images[0][2]
    assert await cache.get(images[2][0], images[2][1]) == images[2][2]
    assert cache.held_bytes <= 2 * len(images[0][2]) + 100, "the least recently used image made room"


async def test_the_last_image_is_let_go_even_when_nobody_asks_again(tmp_path: Path) -> None:
    # After a release every station has its image and only polls (304): no request would ever prune.
    cache = ImageCache(idle_s=0.2)
    sha256, path, data = _stored(tmp_path, "1.0")
    assert await cache.get(sha256, path) == data
    deadline = time.monotonic() + 5
    while cache.held_bytes:  # the cache's own timer: nothing to await from outside it, so poll
        assert time.monotonic() < deadline, "the image was never let go"
        await asyncio.sleep(0.05)
