"""Which registry tables hold secrets: left out of a backup unless asked, carried over by a restore without them."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

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


def secret_rows_sql(table: str) -> str:
    """The query that reads a secret table whole, to carry it across a restore."""
    if table not in SECRET_TABLES:
        raise ValueError(f"{table} is not a secret table")
    return f"SELECT * FROM {table}"


async def put_back(conn: aiosqlite.Connection, kept: dict[str, list[dict[str, Any]]]) -> None:
    """Replace the secret tables of a just-restored registry with the rows the running one had."""
    for table, rows in kept.items():
        async with conn.execute(f"PRAGMA table_info({table})") as cursor:
            columns = {row[1] for row in await cursor.fetchall()}
        if not columns:
            continue  # the restored registry predates the table; its migration will create it empty
        await conn.execute(f"DELETE FROM {table}")
        for row in rows:
            names = [name for name in row if name in columns]
            placeholders = ", ".join("?" for _ in names)
            await conn.execute(
                f"INSERT INTO {table} ({', '.join(names)}) VALUES ({placeholders})",
                [row[name] for name in names],
            )


def _present(conn: sqlite3.Connection) -> list[str]:
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return [table for table in SECRET_TABLES if table in names]
