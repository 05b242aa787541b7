"""Back a site up as a stream, and restore one into the running service without stopping it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import queue
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from services.core.errors import Conflict, StorageFull
from services.domain.backup import configfiles, secrets
from services.domain.backup.archive import Manifest, file_sha256, unpack, write_archive
from services.domain.backup.limits import MIB, ArchiveError, ArchiveLimits
from services.domain.firmware.store import FirmwareStore
from services.store.journal import EventLog, Journal
from services.store.registry.database import migration_scripts
from services.store.registry.schema import differences

PREVIOUS_REGISTRY = "registry.before-restore.sqlite3"
SYSTEM_CONFIG_DIR = Path("/etc/stationmaster")
SCRATCH_PREFIX = ".backup-"
# Room to leave on the card besides what a restore unpacks: the registry must still grow.
RESERVE_BYTES = 64 * MIB
_STREAM_CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class RestoreSummary:
    """What a restore did."""

    stations: int
    images: int
    images_added: int
    secrets: bool
    secrets_kept: dict[str, int]
    archive_created_at: float
    archive_site_id: str | None
    previous_registry: str
    config: dict[str, bytes]


class SiteBackup:
    """Backups and restores of one site: only the service, which owns the registry, makes or applies them."""

    def __init__(
        self,
        journal: Journal,
        store: FirmwareStore,
        data_dir: Path,
        config_file: Path | None,
        version: str,
        *,
        max_image_bytes: int = 16 * MIB,
    ) -> None:
        self._journal = journal
        self.limits = ArchiveLimits(max_image_bytes=max_image_bytes)
        self._db = journal.registry.db
        self._store = store
        self._data_dir = data_dir
        self._config_file = config_file
        self._version = version
        self._restoring = asyncio.Lock()

    def scratch(self) -> tempfile.TemporaryDirectory[str]:
        """A private scratch directory next to the registry (same disk: renames are atomic, /tmp may be RAM)."""
        return tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX, dir=self._data_dir)

    async def stream(self, *, include_secrets: bool) -> AsyncGenerator[bytes, None]:
        """Yield the archive's bytes; secrets are in it only if `include_secrets`. Logs `backup_made` at the end."""
        with self.scratch() as scratch:
            snapshot = Path(scratch) / "registry.sqlite3"
            await self._db.backup_to(snapshot)
            left_out = {} if include_secrets else await asyncio.to_thread(secrets.strip_secrets, snapshot)
            manifest, firmware = await asyncio.to_thread(self._describe, snapshot, include_secrets, left_out)
            config = await asyncio.to_thread(self._config_files, include_secrets)
            manifest = _with_config(manifest, tuple(config))
            site_id = await asyncio.to_thread(_read_site_id, self._data_dir)
            pipe = _ChunkPipe()
            writer = threading.Thread(
                target=pipe.run,
                args=(write_archive, manifest, snapshot, firmware, config, site_id),
                name="backup-writer",
                daemon=True,
            )
            writer.start()
            sent = 0
            try:
                while (chunk := await asyncio.to_thread(pipe.get)) is not None:
                    sent += len(chunk)
                    yield chunk
            finally:
                pipe.cancel()
                await asyncio.to_thread(writer.join)
            if pipe.error is not None:
                raise pipe.error
        what = "with secrets" if include_secrets else "without secrets"
        await self._journal.write(
            lambda log: log(
                "backup_made",
                None,
                f"backup made {what}: {manifest.stations} stations, {len(manifest.images)} images, {sent:,} bytes",
                bytes=sent,
                secrets=include_secrets,
            )
        )

    async def restore(self, archive: Path) -> RestoreSummary:
        """Check `archive` whole, then make it the site's state while the service runs; refusals change nothing."""
        if self._restoring.locked():
            raise Conflict("a restore is already running")
        async with self._restoring:
            with self.scratch() as scratch:
                return await self._restore(archive, Path(scratch))

    async def _restore(self, archive: Path, scratch: Path) -> RestoreSummary:
        room = (await asyncio.to_thread(shutil.disk_usage, scratch)).free - RESERVE_BYTES
        limits = dataclasses.replace(self.limits, room=room)
        unpacked = await asyncio.to_thread(unpack, archive, scratch, limits)
        manifest = unpacked.manifest
        images = await asyncio.to_thread(_check_registry, unpacked.registry, len(migration_scripts()))
        missing = [sha[:12] for sha in images if sha not in unpacked.firmware and not self._store.has(sha)]
        if missing:
            raise ArchiveError(f"the archive's registry names firmware it does not hold: {', '.join(missing)}")
        added = await asyncio.to_thread(self._put_firmware, unpacked.firmware)
        kept: dict[str, int] = {}

        async def carry(live: aiosqlite.Connection, restored: aiosqlite.Connection) -> None:
            # An archive without secrets must not wipe the ones this appliance has: carry them over, in the
            # same transaction that makes the restored file whole.
            if not manifest.secrets:
                kept.update(await secrets.carry_over(live, restored))

        try:
            await self._db.swap_in(unpacked.registry, self._data_dir / PREVIOUS_REGISTRY, carry)
        except (sqlite3.Error, OSError) as exc:
            await asyncio.to_thread(self._remove_firmware, added)
            raise ArchiveError(f"the archive's registry could not be opened ({exc}); nothing was changed") from None
        if unpacked.site_id:
            await asyncio.to_thread(_write_site_id, self._data_dir, unpacked.site_id)
        stations = await self._db.fetch_one("SELECT count(*) FROM stations")
        count = int(stations[0]) if stations else 0
        summary = RestoreSummary(
            stations=count,
            images=len(images),
            images_added=len(added),
            secrets=manifest.secrets,
            secrets_kept=kept,
            archive_created_at=manifest.created_at,
            archive_site_id=manifest.site_id,
            previous_registry=str(self._data_dir / PREVIOUS_REGISTRY),
            config=unpacked.config,
        )

        async def record(log: EventLog) -> None:
            made = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(manifest.created_at))
            await log(
                "backup_restored",
                None,
                f"restored the backup made {made}: {count} stations, {len(images)} images",
                archive_created_at=manifest.created_at,
                secrets=manifest.secrets,
            )

        await self._journal.write(record)
        return summary

    def _describe(
        self, snapshot: Path, include_secrets: bool, left_out: dict[str, int]
    ) -> tuple[Manifest, dict[str, Path]]:
        conn = sqlite3.connect(snapshot)
        try:
            conn.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, whatever the live one uses
            verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
            if verdict != "ok":
                raise Conflict(f"the registry snapshot failed its integrity check: {verdict}")
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            stations = int(conn.execute("SELECT count(*) FROM stations").fetchone()[0])
            images = tuple(row[0] for row in conn.execute("SELECT sha256 FROM images ORDER BY sha256"))
        finally:
            conn.close()
        firmware = {sha: self._store.path_for(sha) for sha in images if self._store.has(sha)}
        manifest = Manifest(
            created_at=time.time(),
            version=self._version,
            site_id=_read_site_id(self._data_dir),
            registry_version=version,
            registry_sha256=file_sha256(snapshot),
            secrets=include_secrets,
            stations=stations,
            images=tuple(firmware),
            config=(),
            left_out=left_out,
        )
        return manifest, firmware

    def _config_files(self, include_secrets: bool) -> dict[str, Path]:
        """The config files a backup carries (configfiles.KNOWN): the config file in force, as stationmaster.toml;
        beside the system one, the tunnel's settings and keys too; private keys only with secrets."""
        config = self._config_file
        if config is None or not config.is_file():
            return {}
        if config.parent != SYSTEM_CONFIG_DIR:
            return {configfiles.CONFIG_FILE: config}  # a file elsewhere (a home folder): never its neighbours
        found: dict[str, Path] = {}
        for name in configfiles.KNOWN:
            path = config if name == configfiles.CONFIG_FILE else config.parent / name
            if configfiles.is_secret(name) and not include_secrets:
                continue
            if path.is_file() and not path.is_symlink() and os.access(path, os.R_OK):
                found[name] = path
        return found

    def _put_firmware(self, firmware: dict[str, Path]) -> list[str]:
        added: list[str] = []
        for sha256, path in firmware.items():
            if self._store.has(sha256):
                continue
            try:
                self._store.put(path.read_bytes())
            except StorageFull:
                self._remove_firmware(added)
                raise
            added.append(sha256)
        return added

    def _remove_firmware(self, added: list[str]) -> None:
        for sha256 in added:
            self._store.remove(sha256)


def _check_registry(path: Path, known_version: int) -> list[str]:
    """Refuse a registry that is damaged, newer than this Stationmaster, or shaped otherwise than the migrations
    make it (a trigger, view, table or index of its own would run inside this appliance); return its images."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > known_version:
                raise ArchiveError(
                    f"the archive's registry is at version {version}, newer than this Stationmaster knows"
                    f" ({known_version}); upgrade Stationmaster first"
                )
            if verdict != "ok":
                raise ArchiveError(f"the archive's registry fails SQLite's integrity check: {verdict}")
            strange = differences(conn, version)
            if strange:
                raise ArchiveError(
                    f"the archive's registry is not as Stationmaster makes one: {'; '.join(strange[:5])}"
                    + (f" (and {len(strange) - 5} more)" if len(strange) > 5 else "")
                )
            if conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
                raise ArchiveError("the archive's registry has rows that point at rows it does not have")
            images = [row[0] for row in conn.execute("SELECT sha256 FROM images")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise ArchiveError(f"the archive's registry is not a usable database ({exc})") from None
    return images


def sweep_scratch(data_dir: Path) -> int:
    """Remove what backups and restores cut short by a power cut left in the data directory; return how many."""
    swept = 0
    for leftover in data_dir.glob(f"{SCRATCH_PREFIX}*"):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
            swept += 1
    return swept


def _with_config(manifest: Manifest, names: tuple[str, ...]) -> Manifest:
    return dataclasses.replace(manifest, config=names)


def _read_site_id(data_dir: Path) -> str | None:
    path = data_dir / "site-id"
    return path.read_text().strip() if path.is_file() else None


def _write_site_id(data_dir: Path, value: str) -> None:
    path = data_dir / "site-id"
    if _read_site_id(data_dir) == value:
        return
    temp = path.with_suffix(".tmp")
    temp.write_text(value + "\n")
    os.replace(temp, path)


class _ChunkPipe:
    """A file-like sink for the archive writer's thread, read in chunks by the event loop (bounded: back-pressure)."""

    def __init__(self) -> None:
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
        self._buffer = bytearray()
        self._cancelled = threading.Event()
        self.error: BaseException | None = None

    def run(self, write: Any, *args: Any) -> None:
        """Run `write(self, *args)` in the writer thread; always end the stream."""
        try:
            write(self, *args)
            self._flush()
        except BrokenPipeError:
            pass  # the reader went away: nobody wants the rest
        except BaseException as exc:  # handed to the reader, which raises it
            self.error = exc
        finally:
            self._put(None)

    def write(self, data: bytes) -> int:
        """Take bytes from tarfile; pass them on in chunks."""
        self._buffer += data
        if len(self._buffer) >= _STREAM_CHUNK:
            self._flush()
        return len(data)

    def get(self) -> bytes | None:
        """The next chunk, or None at the end (blocks: call it in a thread)."""
        return self._queue.get()

    def cancel(self) -> None:
        """The reader stopped: let the writer fail at its next write."""
        self._cancelled.set()
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()

    def _flush(self) -> None:
        if self._buffer:
            self._put(bytes(self._buffer))
            self._buffer.clear()

    def _put(self, item: bytes | None) -> None:
        while True:
            if self._cancelled.is_set() and item is not None:
                raise BrokenPipeError("the backup's reader went away")
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                if self._cancelled.is_set():
                    return
