"""Backup archives as an attacker (or a careless admin) makes them: a real backup, taken apart and put back wrong.

Large members are streamed through gzip, never held: a 1 GiB member of zeros costs the test a megabyte.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sqlite3
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

TOP = "stationmaster-backup"
MANIFEST = f"{TOP}/manifest.json"
REGISTRY = f"{TOP}/registry.sqlite3"
_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Member:
    """A member to add: its bytes, or `size` bytes of `fill` (streamed), or a raw PAX header of `size` bytes."""

    name: str
    data: bytes = b""
    size: int | None = None
    fill: bytes = b"\0"
    pax_header: bool = False


@dataclass(slots=True)
class Crafted:
    """What to change in a real backup."""

    add: list[Member] = field(default_factory=list)
    config: list[str] = field(default_factory=list)  # names to list in the manifest's config
    images: list[str] = field(default_factory=list)  # digests to list in the manifest's images
    registry: Callable[[sqlite3.Connection], None] | None = None  # SQL run on the archive's registry


def craft(original: Path, target: Path, change: Crafted, scratch: Path) -> None:
    """Write `target`: `original` with the registry changed, the members added and the manifest made to match."""
    members: list[tuple[tarfile.TarInfo, bytes]] = []
    with tarfile.open(original, mode="r:gz") as tar:
        for info in tar.getmembers():
            source = tar.extractfile(info)
            assert source is not None
            members.append((info, source.read()))
    manifest = json.loads(dict((i.name, d) for i, d in members)[MANIFEST])
    if change.registry is not None:
        registry = scratch / "crafted.sqlite3"
        registry.write_bytes(dict((i.name, d) for i, d in members)[REGISTRY])
        conn = sqlite3.connect(registry)
        change.registry(conn)
        conn.commit()
        conn.close()
        data = registry.read_bytes()
        manifest["registry_sha256"] = hashlib.sha256(data).hexdigest()
        members = [(i, data if i.name == REGISTRY else d) for i, d in members]
    manifest["config"] = [*manifest["config"], *change.config]
    manifest["images"] = [*manifest["images"], *change.images]
    with target.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as out:
        for info, data in members:
            if info.name == MANIFEST:
                data = json.dumps(manifest).encode()
            info.size = len(data)
            out.write(info.tobuf(tarfile.USTAR_FORMAT))
            _write_padded(out, iter([data]), len(data))
        for member in change.add:
            _add(out, member)
        out.write(b"\0" * tarfile.BLOCKSIZE * 2)


def _add(out: gzip.GzipFile, member: Member) -> None:
    size = len(member.data) if member.size is None else member.size
    info = tarfile.TarInfo(member.name)
    info.size, info.mode = size, 0o600
    if member.pax_header:
        info.type = tarfile.XHDTYPE
    out.write(info.tobuf(tarfile.USTAR_FORMAT))
    chunks = iter([member.data]) if member.size is None else _filled(member.fill, size)
    _write_padded(out, chunks, size)


def _filled(fill: bytes, size: int) -> Iterator[bytes]:
    block = fill * (_CHUNK // len(fill))
    left = size
    while left > 0:
        yield block[:left]
        left -= len(block)


def _write_padded(out: gzip.GzipFile, chunks: Iterator[bytes], size: int) -> None:
    for chunk in chunks:
        out.write(chunk)
    remainder = size % tarfile.BLOCKSIZE
    if remainder:
        out.write(b"\0" * (tarfile.BLOCKSIZE - remainder))


def members_of(archive: Path) -> list[str]:
    """The member names of an archive (for tests that check what a backup holds)."""
    with tarfile.open(fileobj=io.BytesIO(archive.read_bytes()), mode="r:gz") as tar:
        return tar.getnames()
