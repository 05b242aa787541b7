"""Stations made ready before their first check-in: bench bundles and USB flashes, awaiting or arrived."""

from __future__ import annotations

import json
from typing import Any

import aiosqlite

from services.core.models import Provision
from services.store.registry.database import Database

_AWAITING = "arrived_at IS NULL AND cancelled_at IS NULL"


class ProvisionTable:
    """Reads of the `provisions` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def awaiting(self) -> list[Provision]:
        """Every provision still waiting for its station's first check-in, oldest first."""
        rows = await self._db.fetch_all(f"SELECT * FROM provisions WHERE {_AWAITING} ORDER BY id")
        return [provision(r) for r in rows]

    async def recent(self, limit: int = 50) -> list[Provision]:
        """The latest provisions of every state, newest first."""
        rows = await self._db.fetch_all("SELECT * FROM provisions ORDER BY id DESC LIMIT ?", (limit,))
        return [provision(r) for r in rows]

    async def awaiting_by_token(self, token_hash: str) -> Provision | None:
        """The awaiting provision whose station is known only by this token hash, or None."""
        row = await self._db.fetch_one(f"SELECT * FROM provisions WHERE token_hash = ? AND {_AWAITING}", (token_hash,))
        return None if row is None else provision(row)


async def insert(conn: aiosqlite.Connection, record: Provision, token_hash: str | None, created_station: bool) -> int:
    """Record a provision and return its id; `token_hash` only for one whose MAC is not known yet."""
    cursor = await conn.execute(
        "INSERT INTO provisions (name, chip, mac, road, token_hash, wifi, firmware, created_at, created_station)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            record.name,
            record.chip,
            record.mac,
            record.road,
            token_hash,
            json.dumps(list(record.wifi)),
            record.firmware,
            record.created_at,
            int(created_station),
        ),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def awaiting_named(conn: aiosqlite.Connection, name: str) -> tuple[Provision, bool] | None:
    """The awaiting provision with this name (any case) and whether it made its station row, or None."""
    async with conn.execute(
        f"SELECT * FROM provisions WHERE name = ? COLLATE NOCASE AND {_AWAITING}", (name,)
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None else (provision(row), bool(row[11]))


async def token_only_in(conn: aiosqlite.Connection) -> list[Provision]:
    """Awaiting provisions whose station is known only by its token, inside the writer's transaction."""
    async with conn.execute(f"SELECT * FROM provisions WHERE mac IS NULL AND {_AWAITING} ORDER BY id") as cursor:
        return [provision(r) for r in await cursor.fetchall()]


async def awaiting_for_mac(conn: aiosqlite.Connection, mac: str) -> Provision | None:
    """The awaiting provision made for this MAC, or None."""
    async with conn.execute(f"SELECT * FROM provisions WHERE mac = ? AND {_AWAITING}", (mac,)) as cursor:
        row = await cursor.fetchone()
    return None if row is None else provision(row)


async def claim_by_token(conn: aiosqlite.Connection, provision_id: int, token_hash: str, mac: str) -> bool:
    """Bind a token-only provision to the MAC that presented its token; False if it is no longer awaiting."""
    cursor = await conn.execute(
        f"UPDATE provisions SET mac = ?, token_hash = NULL WHERE id = ? AND token_hash = ? AND {_AWAITING}",
        (mac, provision_id, token_hash),
    )
    return cursor.rowcount == 1


async def mark_arrived(conn: aiosqlite.Connection, mac: str, name: str, now: float) -> Provision | None:
    """Note the first check-in of the station provisioned for `mac` as `name`; return that provision, if any."""
    async with conn.execute(
        f"SELECT * FROM provisions WHERE mac = ? AND {_AWAITING} ORDER BY name = ? COLLATE NOCASE DESC, id DESC",
        (mac, name),
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return None
    await conn.execute("UPDATE provisions SET arrived_at = ? WHERE id = ?", (now, row[0]))
    return provision(row)


async def cancel(conn: aiosqlite.Connection, provision_id: int, now: float) -> None:
    """Cancel an awaiting provision: its token (if it kept one) is forgotten."""
    await conn.execute(
        "UPDATE provisions SET cancelled_at = ?, token_hash = NULL WHERE id = ?",
        (now, provision_id),
    )


async def name_awaited(conn: aiosqlite.Connection, name: str, except_mac: str | None = None) -> bool:
    """True if an awaiting provision (other than the one made for `except_mac`) holds this name (any case)."""
    async with conn.execute(
        f"SELECT 1 FROM provisions WHERE name = ? COLLATE NOCASE AND {_AWAITING} AND (? IS NULL OR mac IS NOT ?)",
        (name, except_mac, except_mac),
    ) as cursor:
        return await cursor.fetchone() is not None


def provision(row: Any) -> Provision:
    """A `provisions` row (Row or tuple, `SELECT *` column order) as a value."""
    return Provision(
        id=int(row[0]),
        name=str(row[1]),
        chip=str(row[2]),
        mac=row[3],
        road=str(row[4]),
        wifi=tuple(int(i) for i in json.loads(row[6])),
        firmware=row[7],
        created_at=float(row[8]),
        arrived_at=row[9],
        cancelled_at=row[10],
    )


async def provision_station(
    conn: aiosqlite.Connection, *, mac: str, name: str, chip: str, token_hash: str, now: float
) -> bool:
    """Make `mac` an accepted station holding this token, not yet seen under it; True if its row is new.

    A row already there (a station once pending, rejected or retired, re-flashed) keeps its history; not its
    pinned station key: the flashed board makes a new one, pinned at its first check-in with this token.
    """
    cursor = await conn.execute(
        "UPDATE stations SET name = ?, status = 'accepted', chip = ?, token_hash = ?, token_unconfirmed = 0,"
        " last_seen_at = NULL, key_hash = NULL, key_pinned_at = NULL WHERE mac = ?",
        (name, chip, token_hash, mac),
    )
    if cursor.rowcount:
        return False
    await conn.execute(
        "INSERT INTO stations (mac, name, status, chip, created_at, token_hash, token_unconfirmed)"
        " VALUES (?, ?, 'accepted', ?, ?, ?, 0)",
        (mac, name, chip, now, token_hash),
    )
    return True


async def unprovision_station(conn: aiosqlite.Connection, mac: str, *, created: bool) -> None:
    """Undo `provision_station` for a cancelled provision: the row goes if it made it and never saw it."""
    if created:
        cursor = await conn.execute("DELETE FROM stations WHERE mac = ? AND last_seen_at IS NULL", (mac,))
        if cursor.rowcount:
            return
    await conn.execute("UPDATE stations SET token_hash = NULL, token_unconfirmed = 0 WHERE mac = ?", (mac,))


async def station_in(conn: aiosqlite.Connection, mac: str) -> tuple[str, str, float | None] | None:
    """(name, status, last_seen_at) of a station, inside the writer's transaction."""
    async with conn.execute("SELECT name, status, last_seen_at FROM stations WHERE mac = ?", (mac,)) as cursor:
        row = await cursor.fetchone()
    return None if row is None else (str(row[0]), str(row[1]), row[2])


async def station_name_taken(conn: aiosqlite.Connection, name: str, except_mac: str | None) -> str | None:
    """The MAC of another station already called `name` (any case), or None."""
    async with conn.execute(
        "SELECT mac FROM stations WHERE name = ? COLLATE NOCASE AND mac IS NOT ?", (name, except_mac)
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None else str(row[0])


async def provision_by_id(conn: aiosqlite.Connection, provision_id: int) -> Provision | None:
    """One provision, inside the writer's transaction."""
    async with conn.execute("SELECT * FROM provisions WHERE id = ?", (provision_id,)) as cursor:
        row = await cursor.fetchone()
    return None if row is None else provision(row)


async def station_for_token(conn: aiosqlite.Connection, token_hash: str) -> str | None:
    """The MAC of the station holding this token hash, inside the writer's transaction."""
    async with conn.execute("SELECT mac FROM stations WHERE token_hash = ?", (token_hash,)) as cursor:
        row = await cursor.fetchone()
    return None if row is None else str(row[0])
