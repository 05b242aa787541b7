"""Stored image files, checked against their digest before they are served: once while stations take them.

Images go out with sendfile from the file itself (the kernel's page cache keeps a busy image in memory, and
gives the memory back when it is needed): nothing of an image is held here but the fact that its file was
checked. A file nobody has asked for in `idle_s` is checked again when next asked for, and at once when its
size or modification time changed, so a card that rots between releases is noticed.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from pathlib import Path

from services.core.errors import StationmasterError

IDLE_S = 300.0  # an image nobody has asked for in this long is checked again when next asked for
_READ = 1024 * 1024


class CorruptStoredImage(StationmasterError):
    """A stored file no longer matches its digest; it is never served."""

    code = "corrupt_image"


class StoredImages:
    """Which stored image files were checked, by SHA-256, and when they were last asked for."""

    def __init__(self, idle_s: float = IDLE_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._idle_s = idle_s
        self._clock = clock
        self._checked: dict[str, tuple[tuple[int, int, int], float]] = {}  # file identity, last asked for
        self._checking: dict[str, asyncio.Future[None]] = {}
        self.reads = 0  # whole-file reads done to check (one per image while it is in use)

    async def check(self, sha256: str, path: Path) -> None:
        """Make sure the file at `path` still holds the image `sha256`; raise CorruptStoredImage if not."""
        now = self._clock()
        for stale in [s for s, (_, last) in self._checked.items() if now - last >= self._idle_s]:
            del self._checked[stale]
        # On the loop: a stat of a file being served is answered from the inode cache, as the open that follows
        # it is; a trip to a thread for it cost more than the stat, once per download.
        identity = _identity(path)
        known = self._checked.get(sha256)
        if known is not None and known[0] == identity:
            self._checked[sha256] = (identity, now)
            return
        if sha256 in self._checking:
            return await asyncio.shield(self._checking[sha256])
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._checking[sha256] = future
        try:
            self.reads += 1
            await asyncio.to_thread(_check, path, sha256)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else needs to
            raise
        finally:
            del self._checking[sha256]
        future.set_result(None)
        self._checked[sha256] = (identity, self._clock())


def _identity(path: Path) -> tuple[int, int, int]:
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise CorruptStoredImage(f"the stored image {path.name[:12]} is missing from the store") from None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def _check(path: Path, sha256: str) -> None:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_READ):
            digest.update(chunk)
    if digest.hexdigest() != sha256:
        raise CorruptStoredImage(f"the stored image {sha256[:12]} no longer matches its digest")
