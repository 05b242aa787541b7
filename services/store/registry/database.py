"""The SQLite file: WAL, synchronous=FULL, numbered migrations, one writer that group-commits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from services.core.errors import StorageFull

log = logging.getLogger(__name__)

T = TypeVar("T")
WriteOp = Callable[[aiosqlite.Connection], Awaitable[T]]
# Reads what a restored registry must keep from the live one (its first argument) into the new one (its second).
CarryOp = Callable[[aiosqlite.Connection, aiosqlite.Connection], Awaitable[None]]

# Under load many check-ins wait at once; committing them together costs one fsync instead of one each,
# which is what an SD card (and its wear) cares about. Each waits for the commit that makes it durable.
_MAX_BATCH = 256
_FULL_REPORT_INTERVAL_S = 60.0
# SQLite's own page cache, per connection (its default is 2 MiB): the file's pages sit in the kernel's page
# cache anyway, and what a check-in reads is kept in memory above it (hot views); two full default caches
# would be 4 MiB of a Pi Zero's 512 MiB for little gain.
_PAGE_CACHE_KIB = 512
_MIGRATION_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")


class MigrationError(Exception):
    """A migration failed; the database was left at the previous version."""


class Database:
    """One registry file: a writer connection behind a queue and a read-only connection for queries."""

    def __init__(self, path: Path, writer: aiosqlite.Connection, reader: aiosqlite.Connection) -> None:
        self.path = path
        self._writer = writer
        self._reader = reader
        self._queue: asyncio.Queue[tuple[WriteOp[Any], asyncio.Future[Any]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.commits = 0
        self.queries = 0  # statements run on the reader: what the caches in front of it save shows here
        self._full_reported_at = -_FULL_REPORT_INTERVAL_S
        self._full_at: float | None = None  # when a commit last failed for want of room (monotonic)
        # Bumped when a restore swaps the file: whoever caches what is in it must read it again.
        self.generation = 0
        # Told, after each commit, which stations it changed (ALL: anything, or the whole site's config).
        self._touch_listeners: list[Callable[[frozenset[str]], None]] = []
        # A restore swaps the file under a running service: it holds the write lock (no batch runs) and the
        # reader lock (no query runs) while the connections are replaced.
        self._write_lock = asyncio.Lock()
        # One statement at a time on the reader, each run to its end: statements left open side by side keep
        # one read transaction alive between them, its snapshot never moves on, and a row committed a moment
        # ago is not there for the very caller that wrote it.
        self._reader_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> Database:
        """Open (creating if needed) and migrate the registry at `path`, then start the writer."""
        path.parent.mkdir(parents=True, exist_ok=True)
        writer, reader = await _connect(path)
        db = cls(path, writer, reader)
        db._task = asyncio.create_task(db._write_loop(), name="registry-writer")
        return db

    async def close(self) -> None:
        """Finish queued writes, stop the writer and close both connections."""
        if self._task is not None:
            await self._queue.join()
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self._reader.close()
        await self._writer.close()

    def on_touched(self, listener: Callable[[frozenset[str]], None]) -> None:
        """Call `listener` after each commit with the MACs of the stations it changed (see `touch_triggers`): a
        cache of what a check-in reads stays right without asking the file. A restore or a clock step is `ALL`;
        a change of what every station is given (the site's Wi-Fi, assignments, images) is `SITE`."""
        self._touch_listeners.append(listener)

    async def write(self, op: WriteOp[T]) -> T:
        """Run `op` inside the writer's transaction; return once its changes are committed to disk."""
        if self._task is None:
            raise RuntimeError("the registry is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        await self._queue.put((op, future))
        return await future

    def full_lately(self) -> bool:
        """True if a commit failed for want of room within the last minute: writes are likely to fail now too."""
        return self._full_at is not None and time.monotonic() - self._full_at < _FULL_REPORT_INTERVAL_S

    async def fetch_all(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """Run a read-only query and return every row."""
        self.queries += 1
        # One trip to the reader's thread, not three (execute, fetch, close): under load each trip waits for a
        # turn of a busy event loop.
        async with self._reader_lock:
            return list(await self._reader.execute_fetchall(sql, tuple(params)))

    async def fetch_one(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
        """Run a read-only query and return its first row, or None."""
        self.queries += 1
        async with self._reader_lock:
            rows = await self._reader.execute_fetchall(sql, tuple(params))
        return next(iter(rows), None)

    async def backup_to(self, target: Path) -> None:
        """Write a consistent copy of the registry to the new file `target` with SQLite's online backup.

        One step under one read transaction: check-ins keep being committed (WAL) and are simply not in it.
        """
        async with self._reader_lock:
            copy = await asyncio.to_thread(sqlite3.connect, target, check_same_thread=False)
            try:
                await self._reader.backup(copy, pages=-1)
            finally:
                await asyncio.to_thread(copy.close)

    async def swap_in(self, staged: Path, keep_previous_as: Path, prepare: CarryOp | None = None) -> None:
        """Make `staged` the registry file while the service runs; the old file is kept as `keep_previous_as`.

        Writes and queries wait meanwhile (none is lost: queued writes land in the new file). `staged` is
        migrated and `prepare(live, staged)` carries over what the new file must take from the old one, in
        one transaction of the staged file, before it takes the old one's place in a single rename: a power
        cut at any moment leaves either the old registry or the complete new one, never none and never half.
        """
        async with self._write_lock, self._reader_lock:
            await _prepare_staged(staged, self._writer, prepare)
            # The old file alone must hold the old state (it is kept), and no WAL of it may outlive it: one left
            # beside the new file would be replayed into it at the next open.
            await self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            await self._reader.close()
            await self._writer.close()
            for suffix in ("-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{self.path}{suffix}")
            _link_replacing(self.path, keep_previous_as)
            os.replace(staged, self.path)  # the one step that makes the restore
            _fsync_directory(self.path.parent)
            try:
                self._writer, self._reader = await _connect(self.path)
                self.generation += 1
                self._tell(frozenset({ALL}))
            except BaseException:
                log.exception("the restored registry could not be opened; putting the previous one back")
                for suffix in ("-wal", "-shm"):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(f"{self.path}{suffix}")
                os.replace(keep_previous_as, self.path)
                _fsync_directory(self.path.parent)
                self._writer, self._reader = await _connect(self.path)
                raise

    async def write_alone(self, op: WriteOp[T], then: Callable[[T], None]) -> T:
        """Run `op` in a transaction of its own while every query and write waits; call `then(result)` once it
        is committed, before any of them runs (what `then` changes in memory is seen together with the rows)."""
        if self._task is None:
            raise RuntimeError("the registry is closed")
        async with self._write_lock, self._reader_lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            try:
                result = await op(self._writer)
                await self._writer.execute("COMMIT")
            except BaseException:
                if self._writer.in_transaction:
                    await self._writer.execute("ROLLBACK")
                raise
            self.commits += 1
            # Moving stamps touches no watched column, and still changes what a cache holds: drop it all.
            await self._touched()
            self._tell(frozenset({ALL}))
            then(result)
            return result

    async def integrity_check(self) -> str:
        """Return SQLite's integrity_check verdict ("ok" when sound)."""
        row = await self.fetch_one("PRAGMA integrity_check")
        return str(row[0]) if row else "no answer"

    async def _write_loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < _MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                async with self._write_lock:
                    await self._run_batch(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _run_batch(self, batch: list[tuple[WriteOp[Any], asyncio.Future[Any]]]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            await self._writer.execute("BEGIN IMMEDIATE")
            for op, _ in batch:
                # A savepoint per operation: one bad request rolls back alone, never its neighbours.
                await self._writer.execute("SAVEPOINT op")
                try:
                    outcomes.append((True, await op(self._writer)))
                    await self._writer.execute("RELEASE op")
                except Exception as exc:
                    if not self._writer.in_transaction:
                        raise  # SQLite gave up the whole transaction (a full disk, an I/O error): so does the batch
                    await self._writer.execute("ROLLBACK TO op")
                    await self._writer.execute("RELEASE op")
                    outcomes.append((False, _storage_error(exc)))
            touched = await self._touched()
            await self._writer.execute("COMMIT")
            self.commits += 1
        except Exception as exc:
            error = _storage_error(exc)
            if isinstance(error, StorageFull):
                self._full_at = time.monotonic()
                # The admin must hear of it, but once a minute without a trace: the log may share the full disk.
                if time.monotonic() - self._full_reported_at >= _FULL_REPORT_INTERVAL_S:
                    self._full_reported_at = time.monotonic()
                    log.warning("%s", error.message)
            else:
                log.exception("registry commit failed")
            if self._writer.in_transaction:
                await self._writer.execute("ROLLBACK")
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        if touched:
            self._tell(touched)
        for (ok, value), (_, future) in zip(outcomes, batch, strict=True):
            if future.done():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    async def _touched(self) -> frozenset[str]:
        """The stations this transaction changed (from the temporary triggers), forgotten once read."""
        # One trip to SQLite's thread: each trip waits for a turn of a loop that may be busy sending images.
        rows = await self._writer.execute_fetchall("DELETE FROM temp.touched RETURNING mac")
        return frozenset(str(row[0]) for row in rows)

    def _tell(self, touched: frozenset[str]) -> None:
        for listener in self._touch_listeners:
            listener(touched)


def _storage_error(exc: Exception) -> Exception:
    """The domain's StorageFull for SQLite's "database or disk is full"; any other error as it is."""
    if isinstance(exc, sqlite3.Error) and getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
        return StorageFull(f"the disk holding the registry is full; nothing was written ({exc})")
    return exc


def _keep_private(path: Path) -> None:
    """Make the registry (and its WAL files) readable by the service's user alone: it holds Wi-Fi passphrases."""
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # created private, never briefly world-readable
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(f"{path}{suffix}", 0o600)


async def _connect(path: Path) -> tuple[aiosqlite.Connection, aiosqlite.Connection]:
    """Open, configure and migrate the writer, then open the read-only reader."""
    _keep_private(path)
    writer = await aiosqlite.connect(path, isolation_level=None)
    try:
        await _configure(writer)
        _keep_private(path)  # the -wal and -shm files SQLite just made hold the same secrets
        await migrate(writer)
        await touch_triggers(writer)
        reader = await aiosqlite.connect(path, isolation_level=None)
    except BaseException:
        await writer.close()
        raise
    reader.row_factory = sqlite3.Row
    await reader.execute("PRAGMA query_only = ON")
    await reader.execute("PRAGMA busy_timeout = 5000")
    await reader.execute(f"PRAGMA cache_size = -{_PAGE_CACHE_KIB}")
    return writer, reader


# What a "still here" check-in changes, and what the flush of held check-ins and the history write: a cache
# holds its own copy of these (it writes them through), so changing them tells nobody.
VOLATILE_COLUMNS = frozenset({"last_seen_at", "rssi", "uptime_s", "free_heap", "seen_period_s", "last_history_at"})
# Tables whose rows belong to one station (its `mac`), and tables whose change touches every station.
_STATION_TABLES = ("station_tags", "alerts", "commands", "station_config", "transfers")
# The site's Wi-Fi, assignments and images decide what every station is given, and are no station's row.
_SITE_TABLES = ("site_wifi", "assignments", "images")
# Touched by a restore or a clock step: every station's rows may have changed.
ALL = "*"
# Touched by a change of a site table: what every station is given may have changed, no station's own rows
# (its view stays; an assignment for fifty stations does not make fifty stations be read again).
SITE = "+"


def site_wide(touched: frozenset[str]) -> bool:
    """True when what every station is given (its config, its offer) may have changed."""
    return ALL in touched or SITE in touched


async def touch_triggers(conn: aiosqlite.Connection) -> None:
    """Temporary triggers (this connection only, made anew at each open) that note every station a write
    changes in `temp.touched`, read back after each commit (`Database.on_touched`)."""
    async with conn.execute("SELECT name FROM pragma_table_info('stations')") as cursor:
        watched = [str(row[0]) for row in await cursor.fetchall() if row[0] not in VOLATILE_COLUMNS]
    statements = [
        "CREATE TEMP TABLE IF NOT EXISTS touched (mac TEXT NOT NULL)",
        "CREATE TEMP TRIGGER IF NOT EXISTS touch_stations_insert AFTER INSERT ON main.stations"
        " BEGIN INSERT INTO touched VALUES (new.mac); END",
        "CREATE TEMP TRIGGER IF NOT EXISTS touch_stations_delete AFTER DELETE ON main.stations"
        " BEGIN INSERT INTO touched VALUES (old.mac); END",
        f"CREATE TEMP TRIGGER IF NOT EXISTS touch_stations_update AFTER UPDATE OF {', '.join(watched)}"
        " ON main.stations BEGIN INSERT INTO touched VALUES (new.mac); END",
    ]
    for table in _STATION_TABLES:
        for event, row in (("INSERT", "new"), ("UPDATE", "new"), ("DELETE", "old")):
            statements.append(
                f"CREATE TEMP TRIGGER IF NOT EXISTS touch_{table}_{event.lower()} AFTER {event} ON main.{table}"
                f" WHEN {row}.mac IS NOT NULL BEGIN INSERT INTO touched VALUES ({row}.mac); END"
            )
    for table in _SITE_TABLES:
        for event in ("INSERT", "UPDATE", "DELETE"):
            statements.append(
                f"CREATE TEMP TRIGGER IF NOT EXISTS touch_{table}_{event.lower()} AFTER {event} ON main.{table}"
                f" BEGIN INSERT INTO touched VALUES ('{SITE}'); END"
            )
    for statement in statements:
        await conn.execute(statement)


async def _prepare_staged(staged: Path, live: aiosqlite.Connection, carry: CarryOp | None) -> None:
    """Migrate a staged registry file and carry into it what it must keep of the live one, as one whole file."""
    conn = await aiosqlite.connect(staged, isolation_level=None)
    try:
        # A rollback journal, not a WAL: the file must be complete on its own when it is renamed into place.
        await conn.execute("PRAGMA journal_mode = DELETE")
        await conn.execute("PRAGMA synchronous = FULL")
        await conn.execute("PRAGMA foreign_keys = ON")
        await migrate(conn)
        if carry is not None:
            await conn.execute("BEGIN IMMEDIATE")
            try:
                await carry(live, conn)
                await conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    await conn.execute("ROLLBACK")
                raise
    finally:
        await conn.close()
    _keep_private(staged)


def _link_replacing(path: Path, alias: Path) -> None:
    """Give `path`'s file the name `alias` too (replacing what had it), without `path` ever missing."""
    temp = alias.with_name(alias.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temp)
    os.link(path, temp)
    os.replace(temp, alias)
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


async def _configure(conn: aiosqlite.Connection) -> None:
    await conn.execute("PRAGMA journal_mode = WAL")
    # After a burst the WAL file shrinks back to this once checkpointed, instead of keeping its peak size.
    await conn.execute("PRAGMA journal_size_limit = 4194304")
    # FULL: a check-in acknowledged to a station survives a power cut, which at a remote site is routine.
    await conn.execute("PRAGMA synchronous = FULL")
    await conn.execute("PRAGMA foreign_keys = ON")
    await conn.execute("PRAGMA busy_timeout = 5000")
    await conn.execute(f"PRAGMA cache_size = -{_PAGE_CACHE_KIB}")


def migration_scripts() -> list[tuple[int, str, str]]:
    """Return (number, name, sql) for every bundled migration, in order."""
    folder = resources.files("services.store.registry") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.fullmatch(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    numbers = [number for number, _, _ in found]
    if numbers != list(range(1, len(found) + 1)):
        raise MigrationError(f"migrations must be numbered 1..n without gaps, found {numbers}")
    return found


async def migrate(conn: aiosqlite.Connection) -> int:
    """Apply every migration newer than `PRAGMA user_version`, each in its own transaction; return it."""
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    version = int(row[0]) if row else 0
    scripts = migration_scripts()
    if version > len(scripts):
        raise MigrationError(
            f"the registry is at version {version}, newer than this Stationmaster knows ({len(scripts)});"
            " upgrade Stationmaster instead of downgrading it"
        )
    for number, name, sql in scripts[version:]:
        # executescript() commits whatever is open first, so each script carries its own BEGIN/COMMIT
        # and sets user_version inside that transaction: a failure leaves the previous version intact.
        try:
            await conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
            raise MigrationError(f"migration {name} failed: {exc}") from exc
        log.info("registry migrated to version %d (%s)", number, name)
        version = number
    return version
