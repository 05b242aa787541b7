"""Stations in the registry: who they are, their status, token and last check-in."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiosqlite

from services.core.errors import Conflict, NotFound
from services.core.models import REPORTED_FIELDS, CheckIn, Station, StationStatus
from services.store.registry.checkin_buffer import CheckinBuffer
from services.store.registry.database import Database
from services.store.registry.provisions import name_awaited


@dataclass(frozen=True, slots=True)
class Whereabouts:
    """What the health sweep needs of a station: who it is, its status and when it was last heard, at what pace."""

    mac: str
    name: str
    status: StationStatus
    last_seen_at: float | None
    seen_period_s: float | None


class StationTable:
    """Reads and writes of the `stations` and `station_tags` tables."""

    def __init__(self, db: Database, buffer: CheckinBuffer | None = None) -> None:
        self._db = db
        self._buffer = buffer if buffer is not None else CheckinBuffer()

    async def get(self, mac: str) -> Station | None:
        """Return the station with this MAC, or None."""
        row = await self._db.fetch_one("SELECT * FROM stations WHERE mac = ?", (mac,))
        if row is None:
            return None
        tags = await self._db.fetch_all("SELECT tag FROM station_tags WHERE mac = ? ORDER BY tag", (mac,))
        return self._buffer.overlay(station_from_row(row, tuple(t["tag"] for t in tags)))

    async def require(self, mac: str) -> Station:
        """Return the station with this MAC, or raise NotFound."""
        station = await self.get(mac)
        if station is None:
            raise NotFound(f"no station with MAC {mac}")
        return station

    async def all(self) -> list[Station]:
        """Return every station, by name."""
        rows = await self._db.fetch_all("SELECT * FROM stations ORDER BY name COLLATE NOCASE, mac")
        tags: dict[str, list[str]] = defaultdict(list)
        for row in await self._db.fetch_all("SELECT mac, tag FROM station_tags ORDER BY tag"):
            tags[row["mac"]].append(row["tag"])
        return [self._buffer.overlay(station_from_row(row, tuple(tags.get(row["mac"], ())))) for row in rows]

    async def whereabouts(self) -> list[Whereabouts]:
        """Every accepted or pending station's `Whereabouts` (its held check-in laid over), in one lean read."""
        rows = await self._db.fetch_all(
            "SELECT mac, name, status, last_seen_at, seen_period_s FROM stations"
            " WHERE status IN ('accepted', 'pending')"
        )
        found = []
        for mac, name, status, last_seen_at, seen_period_s in rows:
            held = self._buffer.get(mac)
            if held is None:
                found.append(Whereabouts(mac, name, status, last_seen_at, seen_period_s))
            else:
                period = seen_period_s if held.report.seen_period_s is None else held.report.seen_period_s
                found.append(Whereabouts(mac, name, status, held.at, period))
        return found

    async def credentials(self, mac: str) -> tuple[str | None, bool, str | None]:
        """Return (token hash, whether it is still unconfirmed, pinned key hash) for a station."""
        row = await self._db.fetch_one(
            "SELECT token_hash, token_unconfirmed, key_hash FROM stations WHERE mac = ?", (mac,)
        )
        if row is None:
            return None, False, None
        return row["token_hash"], bool(row["token_unconfirmed"]), row["key_hash"]

    async def mac_for_token(self, token_hash: str) -> str | None:
        """Return the MAC of the station holding this token hash, or None."""
        row = await self._db.fetch_one("SELECT mac FROM stations WHERE token_hash = ?", (token_hash,))
        return None if row is None else str(row["mac"])

    async def macs_with_tag(self, tag: str) -> list[str]:
        """Return the MACs of the stations carrying `tag`."""
        rows = await self._db.fetch_all("SELECT mac FROM station_tags WHERE tag = ?", (tag,))
        return [str(r["mac"]) for r in rows]

    async def pending_unseen_since(self, before: float) -> bool:
        """True if some pending station has not been seen (nor made) since `before`."""
        row = await self._db.fetch_one(
            "SELECT 1 FROM stations WHERE status = 'pending' AND coalesce(last_seen_at, created_at) < ? LIMIT 1",
            (before,),
        )
        return row is not None

    async def counts_by_status(self) -> dict[str, int]:
        """Return how many stations are in each status."""
        rows = await self._db.fetch_all("SELECT status, count(*) AS n FROM stations GROUP BY status")
        return {str(r["status"]): int(r["n"]) for r in rows}


async def insert_pending(conn: aiosqlite.Connection, mac: str, now: float, name: str | None = None) -> bool:
    """Record an unknown MAC as a pending station; return True if it was new.

    Without a name it gets one no other station (or awaited bundle) holds: see `free_default_name`.
    """
    cursor = await conn.execute(
        "INSERT INTO stations (mac, name, status, created_at) VALUES (?, ?, 'pending', ?) ON CONFLICT (mac) DO NOTHING",
        (mac, name or await free_default_name(conn, mac), now),
    )
    return cursor.rowcount == 1


async def free_default_name(conn: aiosqlite.Connection, mac: str) -> str:
    """The default name for a new station, or, when another holds it, the same with more of its MAC.

    Two MACs often end alike (24:0A:C4:00:00:01 and 34:85:18:00:00:01): both would be "esp-000001", and
    the admin could then act on the wrong one. The whole MAC is unique among stations; a numbered suffix
    covers a name the admin gave by hand.
    """
    whole = "esp-" + mac.replace(":", "").lower()
    candidates = [default_name(mac), whole, *(f"{whole}-{n}" for n in range(2, 100))]
    for candidate in candidates:
        if not await _name_taken(conn, candidate, mac):
            return candidate
    raise Conflict(f"no free name for station {mac}")  # a hundred stations named after one MAC: never by chance


async def apply_report(conn: aiosqlite.Connection, report: CheckIn, now: float) -> None:
    """Store the fields a station reported (those it left out keep their last value)."""
    sets = ["last_seen_at = ?"]
    params: list[object] = [now]
    for name in REPORTED_FIELDS:
        value = getattr(report, name)
        if value is not None:
            sets.append(f"{name} = ?")
            params.append(value)
    params.append(report.mac)
    await conn.execute(f"UPDATE stations SET {', '.join(sets)} WHERE mac = ?", params)


async def set_status(conn: aiosqlite.Connection, mac: str, status: StationStatus) -> StationStatus:
    """Set a station's status and return the previous one; rejecting or retiring drops its token."""
    previous = await _current_status(conn, mac)
    if status in ("rejected", "retired"):
        await conn.execute(
            "UPDATE stations SET status = ?, token_hash = NULL, token_unconfirmed = 0 WHERE mac = ?",
            (status, mac),
        )
    else:
        await conn.execute("UPDATE stations SET status = ? WHERE mac = ?", (status, mac))
    return previous


async def set_token(conn: aiosqlite.Connection, mac: str, token_hash: str, *, confirmed: bool) -> None:
    """Store a station's token hash (`confirmed` once the station has used it)."""
    await conn.execute(
        "UPDATE stations SET token_hash = ?, token_unconfirmed = ? WHERE mac = ?",
        (token_hash, 0 if confirmed else 1, mac),
    )


async def pin_key(conn: aiosqlite.Connection, mac: str, key_hash: str, now: float) -> None:
    """Pin the station key a station sent at its first contact (its SHA-256): it must prove itself with it."""
    await conn.execute(
        "UPDATE stations SET key_hash = ?, key_pinned_at = ? WHERE mac = ? AND key_hash IS NULL", (key_hash, now, mac)
    )


async def confirm_token(conn: aiosqlite.Connection, mac: str) -> None:
    """Mark the station's token as used at least once."""
    await conn.execute("UPDATE stations SET token_unconfirmed = 0 WHERE mac = ? AND token_unconfirmed", (mac,))


async def rename(conn: aiosqlite.Connection, mac: str, name: str) -> None:
    """Give a station a new name; names are unique (case-insensitively)."""
    await _current_status(conn, mac)
    clash = await _holder_of(conn, name, mac)
    if clash is not None:
        raise Conflict(f"the name {name!r} is already used by station {clash}")
    if await name_awaited(conn, name, except_mac=mac):
        raise Conflict(f"the name {name!r} is held by a station awaiting its arrival (see `stationmaster onboard`)")
    await conn.execute("UPDATE stations SET name = ? WHERE mac = ?", (name, mac))


async def change_tags(conn: aiosqlite.Connection, mac: str, add: list[str], remove: list[str]) -> None:
    """Add and remove tags on a station."""
    await _current_status(conn, mac)
    await conn.executemany("DELETE FROM station_tags WHERE mac = ? AND tag = ?", [(mac, t) for t in remove])
    await conn.executemany(
        "INSERT INTO station_tags (mac, tag) VALUES (?, ?) ON CONFLICT DO NOTHING", [(mac, t) for t in add]
    )


async def set_settings(conn: aiosqlite.Connection, mac: str, settings: dict[str, object]) -> None:
    """Replace the station's admin-defined settings object."""
    await _current_status(conn, mac)
    await conn.execute("UPDATE stations SET settings = ? WHERE mac = ?", (json.dumps(settings), mac))


async def set_chip(conn: aiosqlite.Connection, mac: str, chip: str) -> None:
    """Record which chip a station is."""
    await _current_status(conn, mac)
    await conn.execute("UPDATE stations SET chip = ? WHERE mac = ?", (chip, mac))


async def set_ota_note(conn: aiosqlite.Connection, mac: str, note: str | None) -> None:
    """Record why the station was (not) offered firmware on its last poll."""
    await conn.execute("UPDATE stations SET ota_note = ? WHERE mac = ?", (note, mac))


async def delete_station(conn: aiosqlite.Connection, mac: str, now: float) -> dict[str, int]:
    """Delete a station with everything that hangs off it; return the rows removed, by what they were.

    Its tags, assignment, history, restarts, alerts, commands, config state and rollout rows go with its row
    (ON DELETE CASCADE). Its downloads and the events about it go too, except the admin's own (the audit
    trail), and a bench bundle or USB flash still awaiting it is cancelled, so its token lets nobody in.
    """
    await _current_status(conn, mac)
    removed: dict[str, int] = {}
    cursor = await conn.execute("DELETE FROM events WHERE mac = ? AND audit = 0", (mac,))
    removed["events"] = cursor.rowcount
    cursor = await conn.execute("DELETE FROM transfers WHERE mac = ?", (mac,))
    removed["downloads"] = cursor.rowcount
    cursor = await conn.execute(
        "UPDATE provisions SET cancelled_at = ? WHERE mac = ? AND arrived_at IS NULL AND cancelled_at IS NULL",
        (now, mac),
    )
    removed["provisions"] = cursor.rowcount
    await conn.execute("DELETE FROM stations WHERE mac = ?", (mac,))
    removed["stations"] = 1
    return removed


async def oldest_pending(
    conn: aiosqlite.Connection, beyond: int, sparing: str, held: Callable[[str], bool] = lambda mac: False
) -> list[str]:
    """The pending stations past the first `beyond` to drop: those seen once only (a flood of made-up MACs) before
    those seen again, each least recently seen first; never `sparing` (just arrived), nor one whose latest
    check-in is `held` in memory (seen within the last minute, not written yet)."""
    async with conn.execute("SELECT count(*) FROM stations WHERE status = 'pending'") as cursor:
        row = await cursor.fetchone()
    excess = (row[0] if row else 0) - beyond
    found: list[str] = []
    if excess <= 0:
        return found
    async with conn.execute(
        "SELECT mac FROM stations WHERE status = 'pending' AND mac <> ?"
        " ORDER BY coalesce(last_seen_at, created_at) > created_at, coalesce(last_seen_at, created_at)",
        (sparing,),
    ) as cursor:
        async for (mac,) in cursor:
            if not held(mac):
                found.append(str(mac))
                if len(found) == excess:
                    break
    return found


async def pending_unseen_since(conn: aiosqlite.Connection, before: float) -> list[str]:
    """The pending stations not seen (nor made) since `before`."""
    async with conn.execute(
        "SELECT mac FROM stations WHERE status = 'pending' AND coalesce(last_seen_at, created_at) < ?", (before,)
    ) as cursor:
        return [str(r[0]) for r in await cursor.fetchall()]


def key_fingerprint(key_hash: str | None) -> str | None:
    """How a pinned station key is shown: the first 16 hex digits of its SHA-256 (firmware can print the same)."""
    return None if key_hash is None else "SHA256:" + key_hash[:16]


def default_name(mac: str) -> str:
    """Name a new station after the end of its MAC, as the ESP SDKs name their soft-APs."""
    return "esp-" + mac.replace(":", "")[-6:].lower()


async def _holder_of(conn: aiosqlite.Connection, name: str, mac: str) -> str | None:
    """The MAC of another station with this name (any case), if any."""
    async with conn.execute(
        "SELECT mac FROM stations WHERE name = ? COLLATE NOCASE AND mac <> ?", (name, mac)
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None else str(row[0])


async def _name_taken(conn: aiosqlite.Connection, name: str, mac: str) -> bool:
    return await _holder_of(conn, name, mac) is not None or await name_awaited(conn, name, except_mac=mac)


async def _current_status(conn: aiosqlite.Connection, mac: str) -> StationStatus:
    async with conn.execute("SELECT status FROM stations WHERE mac = ?", (mac,)) as cursor:
        row = await cursor.fetchone()
    if row is None:
        raise NotFound(f"no station with MAC {mac}")
    status: StationStatus = row[0]
    return status


def station_from_row(row: Mapping[str, Any] | sqlite3.Row, tags: tuple[str, ...]) -> Station:
    """A station from its row (a query's or a check-in view's) and its tags."""
    return Station(
        mac=row["mac"],
        name=row["name"],
        status=row["status"],
        tags=tags,
        created_at=row["created_at"],
        last_seen_at=row["last_seen_at"],
        has_token=row["token_hash"] is not None,
        ota_note=row["ota_note"],
        settings=json.loads(row["settings"]),
        **{name: row[name] for name in REPORTED_FIELDS},
        key_fingerprint=key_fingerprint(row["key_hash"]),
        key_pinned_at=row["key_pinned_at"],
    )
