"""Image bytes kept in memory while stations download them, checked against their digest once."""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from pathlib import Path

from services.errors import StationmasterError


class CorruptStoredImage(StationmasterError):
    """A stored file no longer matches its digest; it is never served."""

    code = "corrupt_image"


class ImageCache:
    """A small LRU of image bytes by SHA-256: a fleet pulling one image reads the SD card once."""

    def __init__(self, max_bytes: int = 32 * 1024 * 1024) -> None:
        self._max = max_bytes
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._loading: dict[str, asyncio.Future[bytes]] = {}

    async def get(self, sha256: str, path: Path) -> bytes:
        """Return the image's bytes, loading and verifying them on first use."""
        if sha256 in self._items:
            self._items.move_to_end(sha256)
            return self._items[sha256]
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
        self._items[sha256] = data
        while sum(len(v) for v in self._items.values()) > self._max and len(self._items) > 1:
            self._items.popitem(last=False)
        return data


def _read_verified(path: Path, sha256: str) -> bytes:
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise CorruptStoredImage(f"the stored image {sha256[:12]} no longer matches its digest")
    return data
