"""Commands in the registry: the queue the admin fills and stations drain at check-in."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import aiosqlite

from services.core.errors import NotFound
from services.core.models import OPEN_COMMAND_STATES, Command, CommandState
from services.store.registry.database import Database

_OPEN = "state IN ('queued', 'delivered', 'running')"


class CommandTable:
    """Reads of the `commands` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, command_id: int) -> Command | None:
        """Return one command, or None."""
        row = await self._db.fetch_one("SELECT * FROM commands WHERE id = ?", (command_id,))
        return None if row is None else _command(row)

    async def require(self, command_id: int) -> Command:
        """Return one command, or raise NotFound."""
        command = await self.get(command_id)
        if command is None:
            raise NotFound(f"no command {command_id}")
        return command

    async def listed(self, *, mac: str | None = None, open_only: bool = False, limit: int = 200) -> list[Command]:
        """Commands newest first, optionally of one station, optionally only those not finished."""
        where, params = ["1"], []
        if mac is not None:
            where.append("mac = ?")
            params.append(mac)
        if open_only:
            where.append(_OPEN)
        rows = await self._db.fetch_all(
            f"SELECT * FROM commands WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?", (*params, limit)
        )
        return [_command(r) for r in rows]

    async def any_due(self, now: float) -> bool:
        """True if an unfinished command's time-to-live has run out."""
        row = await self._db.fetch_one(f"SELECT 1 FROM commands WHERE {_OPEN} AND expires_at <= ? LIMIT 1", (now,))
        return row is not None

    async def counts_by_state(self) -> dict[str, int]:
        """How many commands are in each state (for the metrics)."""
        rows = await self._db.fetch_all("SELECT state, count(*) AS n FROM commands GROUP BY state")
        return {str(r["state"]): int(r["n"]) for r in rows}


async def insert(
    conn: aiosqlite.Connection, *, mac: str, kind: str, args: dict[str, Any], now: float, ttl_s: float, forced: bool
) -> Command:
    """Queue a command and return it."""
    cursor = await conn.execute(
        "INSERT INTO commands (mac, kind, args, state, created_at, expires_at, forced)"
        " VALUES (?, ?, ?, 'queued', ?, ?, ?)",
        (mac, kind, json.dumps(args, sort_keys=True), now, now + ttl_s, int(forced)),
    )
    assert cursor.lastrowid is not None
    return Command(cursor.lastrowid, mac, kind, args, "queued", now, now + ttl_s, forced=forced)


async def open_for(conn: aiosqlite.Connection, mac: str) -> list[Command]:
    """A station's unfinished commands, oldest first, read inside the writer's transaction."""
    async with conn.execute(f"SELECT * FROM commands WHERE mac = ? AND {_OPEN} ORDER BY id", (mac,)) as cursor:
        rows = await cursor.fetchall()
        description = cursor.description
    return [_command(r, description) for r in rows]


async def read(conn: aiosqlite.Connection, command_id: int) -> Command | None:
    """One command, read inside the writer's transaction."""
    async with conn.execute("SELECT * FROM commands WHERE id = ?", (command_id,)) as cursor:
        row = await cursor.fetchone()
        description = cursor.description
    return None if row is None else _command(row, description)


async def due_to_expire(conn: aiosqlite.Connection, now: float) -> list[Command]:
    """Unfinished commands whose time-to-live has run out."""
    async with conn.execute(f"SELECT * FROM commands WHERE {_OPEN} AND expires_at <= ? ORDER BY id", (now,)) as cursor:
        rows = await cursor.fetchall()
        description = cursor.description
    return [_command(r, description) for r in rows]


async def set_state(
    conn: aiosqlite.Connection, command_id: int, state: CommandState, *, now: float, result: str | None = None
) -> None:
    """Move a command to `state`; delivery and the end of its life are timestamped."""
    if state == "delivered":
        await conn.execute("UPDATE commands SET state = 'delivered', delivered_at = ? WHERE id = ?", (now, command_id))
    elif state in OPEN_COMMAND_STATES:
        await conn.execute("UPDATE commands SET state = ?, result = ? WHERE id = ?", (state, result, command_id))
    else:
        await conn.execute(
            "UPDATE commands SET state = ?, result = ?, finished_at = ? WHERE id = ?", (state, result, now, command_id)
        )


async def prune(conn: aiosqlite.Connection, before: float) -> int:
    """Delete finished commands created before `before`; return how many."""
    cursor = await conn.execute(f"DELETE FROM commands WHERE NOT ({_OPEN}) AND created_at < ?", (before,))
    return cursor.rowcount


def _command(row: Any, description: Any = None) -> Command:
    # Rows from the reader are sqlite3.Row; the writer's are plain tuples, named by the cursor.
    values = dict(row) if isinstance(row, sqlite3.Row) else dict(zip([d[0] for d in description], row, strict=True))
    return Command(
        id=values["id"],
        mac=values["mac"],
        kind=values["kind"],
        args=json.loads(values["args"]),
        state=values["state"],
        created_at=values["created_at"],
        expires_at=values["expires_at"],
        delivered_at=values["delivered_at"],
        finished_at=values["finished_at"],
        forced=bool(values["forced"]),
        result=values["result"],
    )
