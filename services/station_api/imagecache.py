"""Image bytes kept in memory while stations download them, checked against their digest once."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from services.errors import StationmasterError

IDLE_S = 300.0  # an image nobody has asked for in this long is let go


class CorruptStoredImage(StationmasterError):
    """A stored file no longer matches its digest; it is never served."""

    code = "corrupt_image"


class ImageCache:
    """A small LRU of image bytes by SHA-256: a fleet pulling one image reads the SD card once.

    An image nobody has asked for in `idle_s` is let go: after a release the old images would otherwise
    sit in a Pi's memory until newer ones pushed them out, long after the last station took them.
    """

    def __init__(
        self, max_bytes: int = 32 * 1024 * 1024, idle_s: float = IDLE_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._max = max_bytes
        self._idle_s = idle_s
        self._clock = clock
        self._items: OrderedDict[str, tuple[bytes, float]] = OrderedDict()  # bytes, last asked for
        self._loading: dict[str, asyncio.Future[bytes]] = {}
        self._timer: asyncio.TimerHandle | None = None

    @property
    def held_bytes(self) -> int:
        """How many bytes of images the cache holds now."""
        return sum(len(data) for data, _ in self._items.values())

    async def get(self, sha256: str, path: Path) -> bytes:
        """Return the image's bytes, loading and verifying them on first use."""
        now = self._clock()
        self._let_go_of_idle(now)
        if sha256 in self._items:
            data, _ = self._items.pop(sha256)
            self._items[sha256] = (data, now)
            return data
        if sha256 in self._loading:
            return await asyncio.shield(self._loading[sha256])
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._loading[sha256] = future
        try:
            data = await asyncio.to_thread(_read_verified, path, sha256)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else needs to
            raise
        finally:
            del self._loading[sha256]
        future.set_result(data)
        self._items[sha256] = (data, self._clock())
        while self.held_bytes > self._max and len(self._items) > 1:
            self._items.popitem(last=False)
        if self._timer is None:
            # Once every station has its image nobody asks again: a timer, not the next request, lets go.
            self._timer = asyncio.get_running_loop().call_later(self._idle_s, self._on_timer)
        return data

    def _on_timer(self) -> None:
        self._timer = None
        self._let_go_of_idle(self._clock())
        if self._items:
            oldest = next(iter(self._items.values()))[1]
            wait = max(1.0, oldest + self._idle_s - self._clock())
            self._timer = asyncio.get_running_loop().call_later(wait, self._on_timer)

    def _let_go_of_idle(self, now: float) -> None:
        # Oldest first (least recently asked for): stop at the first one still in use.
        while self._items:
            sha256, (_, last) = next(iter(self._items.items()))
            if now - last < self._idle_s:
                return
            del self._items[sha256]


def _read_verified(path: Path, sha256: str) -> bytes:
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise CorruptStoredImage(f"the stored image {sha256[:12]} no longer matches its digest")
    return data
