"""The firmware store: files named by their SHA-256, written so that no partial file is ever visible."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import tempfile
from pathlib import Path

from services.core.errors import InvalidInput, StorageFull

# A temporary file starts with a dot and never has a digest's name, so path_for() can never point at one.
_TEMP_PREFIX = ".partial-"
_SHA256 = re.compile(r"[0-9a-f]{64}")
# EFBIG too: a file-size limit (quota, RLIMIT_FSIZE) refuses the write just as a full card does.
_NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_CHUNK = 1024 * 1024


class FirmwareStore:
    """A directory of images at `root/ab/abcdef…`, each written atomically and durably, checked by digest."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        """Return where the image with this hex SHA-256 lives (whether or not it exists); refuse anything else."""
        if not _SHA256.fullmatch(sha256):
            raise InvalidInput(f"not a SHA-256 digest: {sha256[:80]!r}")
        return self.root / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        """Return True if an image with this digest is stored."""
        return self.path_for(sha256).is_file()

    def put(self, data: bytes) -> Path:
        """Store `data` under its digest and return the path; raise StorageFull (keeping nothing) if it won't fit."""
        digest = hashlib.sha256(data).hexdigest()
        final = self.path_for(digest)
        if _holds(final, digest):
            return final  # already stored, and still whole
        temp: Path | None = None
        try:
            _make_directory(final.parent)
            fd, name = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=final.parent)
            temp = Path(name)
            try:
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            # Read back before the rename: what goes under the digest's name must be what the digest says.
            if not _holds(temp, digest):
                raise OSError(errno.EIO, f"the bytes written to {temp} do not match their SHA-256")
            os.replace(temp, final)
            _fsync_directory(final.parent)
        except BaseException as exc:
            if temp is not None:
                temp.unlink(missing_ok=True)
            if isinstance(exc, OSError) and exc.errno in _NO_ROOM:
                raise StorageFull(f"no room for {len(data)} more bytes in {self.root}: {exc.strerror}") from exc
            raise
        return final

    def remove(self, sha256: str) -> None:
        """Delete a stored image; nothing happens if it is not there."""
        path = self.path_for(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        _fsync_directory(path.parent)

    def sweep_partials(self) -> int:
        """Delete the temporary files an interrupted put() left behind (call at start-up); return how many."""
        swept = 0
        for leftover in self.root.glob(f"*/{_TEMP_PREFIX}*"):
            leftover.unlink(missing_ok=True)
            swept += 1
        return swept


def _holds(path: Path, digest: str) -> bool:
    """Return True if `path` is a file whose contents hash to `digest`."""
    try:
        with path.open("rb") as file:
            return hashlib.file_digest(file, "sha256").hexdigest() == digest
    except (FileNotFoundError, IsADirectoryError):
        return False


def _make_directory(directory: Path) -> None:
    if directory.is_dir():
        return
    directory.mkdir(parents=True, exist_ok=True)
    # A new directory entry is only durable once its parent is synced.
    _fsync_directory(directory.parent)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view[:_CHUNK])
        view = view[written:]


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
