"""The registry file: migrations that fail safely, writes that commit together and roll back alone."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiosqlite
import pytest

from services.core.errors import InvalidInput
from services.store.registry import Database, MigrationError
from services.store.registry import database as database_module
from services.store.registry.database import migration_scripts


async def test_a_new_registry_is_migrated_to_the_latest_version_in_wal_mode(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "r.sqlite3")
    try:
        assert (await db.fetch_one("PRAGMA user_version"))[0] == len(migration_scripts())  # type: ignore[index]
        assert (await db.fetch_one("PRAGMA journal_mode"))[0] == "wal"  # type: ignore[index]
        assert await db.integrity_check() == "ok"
    finally:
        await db.close()


async def test_a_failing_migration_leaves_the_previous_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "r.sqlite3"
    db = await Database.open(path)
    await db.close()
    good = migration_scripts()
    broken = [
        *good,
        (
            len(good) + 1,
            f"{len(good) + 1:04d}_broken.sql",
            "CREATE TABLE half_done (x INTEGER) STRICT;\nTHIS IS NOT SQL;",
        ),
    ]
    monkeypatch.setattr(database_module, "migration_scripts", lambda: broken)
    with pytest.raises(MigrationError, match=r"broken\.sql failed"):
        await Database.open(path)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(good)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "half_done" not in tables
    finally:
        conn.close()


async def test_a_registry_from_a_newer_stationmaster_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    await (await Database.open(path)).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    with pytest.raises(MigrationError, match="newer than this Stationmaster"):
        await Database.open(path)


async def test_concurrent_writes_share_commits_and_a_failure_rolls_back_alone(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "r.sqlite3")
    try:

        async def add(conn: aiosqlite.Connection, n: int) -> int:
            await conn.execute(
                "INSERT INTO stations (mac, name, status, created_at) VALUES (?, ?, 'pending', 0)",
                (f"02:00:00:00:00:{n:02X}", f"s{n}"),
            )
            if n == 13:
                raise InvalidInput("unlucky")
            return n

        commits_before = db.commits

        def adder(n: int) -> Callable[[aiosqlite.Connection], Awaitable[int]]:
            return lambda conn: add(conn, n)

        results = await asyncio.gather(*(db.write(adder(n)) for n in range(40)), return_exceptions=True)
        assert [r for r in results if isinstance(r, InvalidInput)] == [results[13]]
        rows = await db.fetch_all("SELECT name FROM stations")
        assert len(rows) == 39
        assert "s13" not in {r["name"] for r in rows}
        assert db.commits - commits_before < 40, "a burst of writes is committed in fewer transactions"
    finally:
        await db.close()


async def test_a_read_after_a_write_sees_it_while_other_reads_keep_the_reader_busy(tmp_path: Path) -> None:
    # Reads that overlap on the one reader connection must not keep a read transaction open between them:
    # otherwise its snapshot never moves on and a station (or image) just written is "not there".
    db = await Database.open(tmp_path / "r.sqlite3")
    stop = asyncio.Event()

    async def busy_reader() -> None:
        while not stop.is_set():
            await db.fetch_one("SELECT count(*) FROM stations")
            await db.fetch_all("SELECT mac FROM stations")

    readers = [asyncio.create_task(busy_reader()) for _ in range(8)]
    try:
        for n in range(200):
            mac = f"02:00:00:00:{n >> 8:02X}:{n & 0xFF:02X}"

            async def add(conn: aiosqlite.Connection, mac: str = mac, n: int = n) -> None:
                await conn.execute(
                    "INSERT INTO stations (mac, name, status, created_at) VALUES (?, ?, 'pending', 0)", (mac, f"s{n}")
                )

            await db.write(add)
            row = await db.fetch_one("SELECT name FROM stations WHERE mac = ?", (mac,))
            assert row is not None, f"write {n} was committed but a read right after it did not see it"
    finally:
        stop.set()
        await asyncio.gather(*readers)
        await db.close()
