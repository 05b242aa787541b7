"""The firmware store: files named by their SHA-256, written so that no partial file is ever visible."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile
from pathlib import Path

from services.errors import StorageFull

# Temporary files start with a dot and never sit at a content address, so nothing can serve them.
_TEMP_PREFIX = ".partial-"
_FULL_DISK = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class FirmwareStore:
    """A directory of images, `root/ab/abcdef…`, written atomically and durably."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        """Return where the image with this digest lives (whether or not it exists yet)."""
        return self.root / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        """Return True if the image is stored."""
        return self.path_for(sha256).is_file()

    def put(self, data: bytes) -> Path:
        """Store `data` under its digest: temp file, fsync, rename, fsync the directory; return the path."""
        sha256 = hashlib.sha256(data).hexdigest()
        final = self.path_for(sha256)
        if final.is_file() and final.stat().st_size == len(data):
            return final
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=final.parent)
        try:
            with os.fdopen(fd, "wb") as temp:
                temp.write(data)
                temp.flush()
                os.fsync(temp.fileno())
            os.replace(temp_name, final)
            _fsync_directory(final.parent)
        except OSError as exc:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            if exc.errno in _FULL_DISK:
                raise StorageFull(f"the disk is full: {len(data):,} bytes do not fit in {self.root}") from None
            raise
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise
        return final

    def remove(self, sha256: str) -> None:
        """Delete a stored image (nothing happens if it is not there)."""
        path = self.path_for(sha256)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            _fsync_directory(path.parent)

    def sweep_partials(self) -> int:
        """Delete temporary files an interrupted import left behind; return how many."""
        if not self.root.is_dir():
            return 0
        swept = 0
        for leftover in self.root.glob(f"*/{_TEMP_PREFIX}*"):
            leftover.unlink(missing_ok=True)
            swept += 1
        return swept


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
