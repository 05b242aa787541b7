"""Rollouts in the registry: the `rollouts` and `rollout_stations` tables."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from typing import Any

import aiosqlite

from services.core.errors import Conflict, NotFound
from services.core.rollout_model import ACTIVE_ROLLOUT_STATES, IN_FLIGHT, Rollout, RolloutSettings, RolloutStation
from services.store.registry.database import Database


def sql_list(words: Iterable[str]) -> str:
    """A constant list of words (states, never anyone's input) as an SQL list: ('a', 'b')."""
    return "(" + ", ".join(f"'{word}'" for word in words) + ")"


_ACTIVE = sql_list(ACTIVE_ROLLOUT_STATES)
_SETTINGS = tuple(f.name for f in dataclasses.fields(RolloutSettings))
_STATION_COLUMNS = tuple(f.name for f in dataclasses.fields(RolloutStation))
_ROLLOUT_COLUMNS = ("name", "state", "current_wave", "tolerated_wave", "paused_at", "finished_at", "reason", *_SETTINGS)


class RolloutTable:
    """Reads of the rollout tables (on the read connection)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def all(self, limit: int = 100) -> list[Rollout]:
        """Every rollout, newest first."""
        rows = await self._db.fetch_all("SELECT * FROM rollouts ORDER BY id DESC LIMIT ?", (limit,))
        return [rollout_of(dict(r)) for r in rows]

    async def active(self) -> list[Rollout]:
        """Every unfinished rollout, oldest first."""
        rows = await self._db.fetch_all(f"SELECT * FROM rollouts WHERE state IN {_ACTIVE} ORDER BY id")
        return [rollout_of(dict(r)) for r in rows]

    async def require(self, rollout_id: int) -> Rollout:
        """The rollout with this id, or NotFound."""
        row = await self._db.fetch_one("SELECT * FROM rollouts WHERE id = ?", (rollout_id,))
        if row is None:
            raise NotFound(f"no rollout {rollout_id}")
        return rollout_of(dict(row))

    async def stations(self, rollout_id: int) -> list[RolloutStation]:
        """A rollout's stations, wave by wave in their order."""
        rows = await self._db.fetch_all(
            "SELECT * FROM rollout_stations WHERE rollout_id = ? ORDER BY position", (rollout_id,)
        )
        return [station_of(dict(r)) for r in rows]

    async def counts(self, rollout_ids: Iterable[int]) -> dict[int, dict[str, int]]:
        """How many stations of each rollout are in each state."""
        ids = list(rollout_ids)
        if not ids:
            return {}
        rows = await self._db.fetch_all(
            "SELECT rollout_id, state, count(*) AS n FROM rollout_stations"
            f" WHERE rollout_id IN ({', '.join('?' for _ in ids)}) GROUP BY rollout_id, state",
            ids,
        )
        counts: dict[int, dict[str, int]] = {i: {} for i in ids}
        for row in rows:
            counts[int(row["rollout_id"])][str(row["state"])] = int(row["n"])
        return counts

    async def next_deadline(self, rollout_ids: list[int]) -> float | None:
        """The soonest deadline of a station still in flight in these rollouts, or None."""
        marks = ", ".join("?" for _ in rollout_ids)
        row = await self._db.fetch_one(
            f"SELECT min(deadline_at) AS due FROM rollout_stations WHERE rollout_id IN ({marks})"
            f" AND state IN {sql_list(IN_FLIGHT)} AND active = 1",
            rollout_ids,
        )
        return None if row is None or row["due"] is None else float(row["due"])

    async def active_macs(self) -> set[str]:
        """The stations some unfinished rollout holds."""
        rows = await self._db.fetch_all("SELECT mac FROM rollout_stations WHERE active = 1")
        return {str(r["mac"]) for r in rows}

    async def image_for_version(self, chip: str, project: str | None, version: str) -> str | None:
        """The newest image in the library of this chip and version (and project, when both say), or None."""
        row = await self._db.fetch_one(
            "SELECT sha256 FROM images WHERE chip = ? AND version = ? AND (? IS NULL OR project IS NULL OR project = ?)"
            " ORDER BY imported_at DESC LIMIT 1",
            (chip, version, project, project),
        )
        return None if row is None else str(row["sha256"])


async def insert_rollout(
    conn: aiosqlite.Connection,
    *,
    name: str,
    sha256: str,
    target: Mapping[str, Any],
    waves: Iterable[int | str],
    wave_count: int,
    settings: RolloutSettings,
    now: float,
) -> int:
    """Record a new running rollout and return its id."""
    values = dataclasses.asdict(settings)
    cursor = await conn.execute(
        "INSERT INTO rollouts (name, sha256, target, waves, wave_count, state, created_at, "
        + ", ".join(_SETTINGS)
        + ") VALUES (?, ?, ?, ?, ?, 'running', ?, "
        + ", ".join("?" for _ in _SETTINGS)
        + ")",
        (name, sha256, json.dumps(dict(target)), json.dumps(list(waves)), wave_count, now, *values.values()),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def insert_station(conn: aiosqlite.Connection, row: RolloutStation) -> None:
    """Add a station to a rollout; Conflict if another unfinished rollout already holds it."""
    values = dataclasses.asdict(row)
    try:
        await conn.execute(
            f"INSERT INTO rollout_stations ({', '.join(values)}) VALUES ({', '.join('?' for _ in values)})",
            tuple(values.values()),
        )
    except aiosqlite.IntegrityError:
        raise Conflict(f"station {row.mac} is already in another rollout that has not finished") from None


async def update_rollout(conn: aiosqlite.Connection, rollout_id: int, **changes: Any) -> None:
    """Change some columns of a rollout."""
    await _update(conn, "rollouts", _ROLLOUT_COLUMNS, changes, "id = ?", (rollout_id,))


async def update_station(conn: aiosqlite.Connection, rollout_id: int, mac: str, **changes: Any) -> None:
    """Change some columns of a station's row in a rollout."""
    await _update(conn, "rollout_stations", _STATION_COLUMNS, changes, "rollout_id = ? AND mac = ?", (rollout_id, mac))


async def release(conn: aiosqlite.Connection, rollout_id: int) -> None:
    """A finished rollout holds its stations no more."""
    await conn.execute("UPDATE rollout_stations SET active = 0 WHERE rollout_id = ?", (rollout_id,))


async def rollout_in(conn: aiosqlite.Connection, rollout_id: int) -> Rollout:
    """The rollout, read inside the writer's transaction."""
    rows = await fetch(conn, "SELECT * FROM rollouts WHERE id = ?", (rollout_id,))
    if not rows:
        raise NotFound(f"no rollout {rollout_id}")
    return rollout_of(rows[0])


async def active_rollouts_in(conn: aiosqlite.Connection) -> list[Rollout]:
    """Every unfinished rollout, read inside the writer's transaction."""
    rows = await fetch(conn, f"SELECT * FROM rollouts WHERE state IN {_ACTIVE} ORDER BY id")
    return [rollout_of(r) for r in rows]


async def stations_in(conn: aiosqlite.Connection, rollout_id: int) -> list[RolloutStation]:
    """A rollout's stations, read inside the writer's transaction."""
    rows = await fetch(conn, "SELECT * FROM rollout_stations WHERE rollout_id = ? ORDER BY position", (rollout_id,))
    return [station_of(r) for r in rows]


async def active_row_in(conn: aiosqlite.Connection, mac: str) -> tuple[Rollout, RolloutStation] | None:
    """The unfinished rollout holding this station and its row there, inside the writer's transaction."""
    rows = await fetch(conn, "SELECT * FROM rollout_stations WHERE mac = ? AND active = 1", (mac,))
    if not rows:
        return None
    row = station_of(rows[0])
    return await rollout_in(conn, row.rollout_id), row


async def open_downloads_in(conn: aiosqlite.Connection, bssid: str, *, other_than: str, since: float) -> set[str]:
    """The stations on access point `bssid` with a download still running (begun after `since`)."""
    rows = await fetch(
        conn,
        "SELECT DISTINCT transfers.mac FROM transfers JOIN stations ON stations.mac = transfers.mac"
        " WHERE transfers.finished_at IS NULL AND transfers.started_at >= ? AND stations.bssid = ?"
        " AND transfers.mac <> ?",
        (since, bssid, other_than),
    )
    return {str(r["mac"]) for r in rows}


async def recent_rssi_in(conn: aiosqlite.Connection, mac: str, since: float) -> list[int]:
    """The signal readings in the station's check-in history since `since`, newest first."""
    rows = await fetch(
        conn,
        "SELECT rssi FROM checkins WHERE mac = ? AND at >= ? AND rssi IS NOT NULL ORDER BY at DESC LIMIT 12",
        (mac, since),
    )
    return [int(r["rssi"]) for r in rows]


async def transfers_in(conn: aiosqlite.Connection, mac: str, sha256: str, since: float) -> list[dict[str, Any]]:
    """The downloads of one image to one station that began after `since`, oldest first."""
    return await fetch(
        conn,
        "SELECT started_at, range_start, bytes_sent, finished_at FROM transfers"
        " WHERE mac = ? AND sha256 = ? AND started_at >= ? ORDER BY id",
        (mac, sha256, since),
    )


async def fetch(conn: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
    """Rows as dicts on the writer connection (which has no row factory)."""
    async with conn.execute(sql, tuple(params)) as cursor:
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in await cursor.fetchall()]


def rollout_of(row: Mapping[str, Any]) -> Rollout:
    """A rollout record from its row."""
    return Rollout(
        id=row["id"],
        name=row["name"],
        sha256=row["sha256"],
        target=json.loads(row["target"]),
        waves=tuple(json.loads(row["waves"])),
        wave_count=row["wave_count"],
        state=row["state"],
        current_wave=row["current_wave"],
        settings=RolloutSettings(**{name: row[name] for name in _SETTINGS}),
        created_at=row["created_at"],
        tolerated_wave=row["tolerated_wave"],
        paused_at=row["paused_at"],
        finished_at=row["finished_at"],
        reason=row["reason"],
    )


def station_of(row: Mapping[str, Any]) -> RolloutStation:
    """A station's rollout record from its row."""
    values = {name: row[name] for name in _STATION_COLUMNS}
    for flag in ("active", "critical", "approved"):
        values[flag] = bool(values[flag])
    return RolloutStation(**values)


async def _update(
    conn: aiosqlite.Connection,
    table: str,
    columns: tuple[str, ...],
    changes: Mapping[str, Any],
    where: str,
    params: tuple[Any, ...],
) -> None:
    unknown = set(changes) - set(columns)
    if unknown:
        raise ValueError(f"not a column of {table}: {', '.join(sorted(unknown))}")  # a programming error
    if changes:
        sets = ", ".join(f"{name} = ?" for name in changes)
        await conn.execute(f"UPDATE {table} SET {sets} WHERE {where}", (*changes.values(), *params))
