"""Which registry tables hold secrets: left out of a backup unless asked, carried over by a restore without them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiosqlite

# Every table with a secret in it (a password, a private key) must be named here; tests/backup checks the
# schema for columns that look secret and are not covered. Token hashes are not secrets: a hash of a random
# 192-bit token lets nobody in, and keeping them lets restored stations keep their tokens.
SECRET_TABLES: dict[str, str] = {
    "site_wifi": "the site's Wi-Fi passwords",
}


def strip_secrets(snapshot: Path) -> dict[str, int]:
    """Empty the secret tables of a snapshot file so that not a byte of them is left; return rows removed."""
    removed: dict[str, int] = {}
    conn = sqlite3.connect(snapshot, isolation_level=None)
    try:
        # secure_delete overwrites the freed pages, VACUUM rebuilds the file without them.
        conn.execute("PRAGMA secure_delete = ON")
        for table in _present(conn):
            removed[table] = conn.execute(f"DELETE FROM {table}").rowcount  # names from SECRET_TABLES only
        conn.execute("VACUUM")
    finally:
        conn.close()
    return removed


async def carry_over(live: aiosqlite.Connection, restored: aiosqlite.Connection) -> dict[str, int]:
    """Replace the secret tables of a just-restored registry with the live one's rows; return rows carried."""
    carried: dict[str, int] = {}
    for table in SECRET_TABLES:  # names from this module only, never from the archive
        columns = await _columns(live, table)
        if not columns or columns - await _columns(restored, table):
            continue  # a table this registry does not have, or has otherwise: the migrations make them alike
        names = sorted(columns)
        async with live.execute(f"SELECT {', '.join(names)} FROM {table}") as cursor:
            rows = list(await cursor.fetchall())
        await restored.execute(f"DELETE FROM {table}")
        await restored.executemany(
            f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})", rows
        )
        carried[table] = len(rows)
    return carried


async def _columns(conn: aiosqlite.Connection, table: str) -> set[str]:
    async with conn.execute(f"PRAGMA table_info({table})") as cursor:
        return {str(row[1]) for row in await cursor.fetchall()}


def _present(conn: sqlite3.Connection) -> list[str]:
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return [table for table in SECRET_TABLES if table in names]
