"""Events, check-in history and the download log, with the retention that keeps them bounded."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter

import aiosqlite

from services.core.models import CheckIn, Event
from services.store.registry.batched import BatchedCache
from services.store.registry.database import ALL, Database

# A station's downloads of one image to its end: (MAC, SHA-256, size).
DownloadKey = tuple[str, str, int]
# Three parameters a station, under SQLite's 32,766 a statement.
_DOWNLOADS_AT_ONCE = 5000


class HistoryTable:
    """Reads of the `events`, `checkins` and `transfers` tables."""

    def __init__(self, db: Database) -> None:
        self._db = db
        # The loop breaker's counts, asked at every offer of an image: kept until the station's downloads or
        # alerts change, and read together for stations offered an update at once.
        self._downloads: BatchedCache[DownloadKey, tuple[int, int]] = BatchedCache(
            self._full_downloads_of, owner=itemgetter(0), at_once=_DOWNLOADS_AT_ONCE, name="download-counts"
        )
        db.on_touched(self._touched)

    def _touched(self, macs: frozenset[str]) -> None:
        if ALL in macs:
            self._downloads.forget_all()
        else:
            self._downloads.forget(macs)

    async def events(
        self, *, mac: str | None = None, kind: str | None = None, limit: int = 100, before: int | None = None
    ) -> list[Event]:
        """Return events newest first, optionally for one station or kind, older than id `before`."""
        where, params = ["1"], []
        for clause, value in (("mac = ?", mac), ("kind = ?", kind), ("id < ?", before)):
            if value is not None:
                where.append(clause)
                params.append(value)
        rows = await self._db.fetch_all(
            f"SELECT * FROM events WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?", (*params, limit)
        )
        return [_event(r) for r in rows]

    async def events_after(self, after: int, limit: int) -> list[Event]:
        """Return the events with an id above `after`, oldest first, at most `limit` of them."""
        rows = await self._db.fetch_all("SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?", (after, limit))
        return [_event(r) for r in rows]

    async def last_event_id(self) -> int:
        """The id of the newest event (0 with none)."""
        row = await self._db.fetch_one("SELECT ifnull(max(id), 0) AS last FROM events")
        assert row is not None
        return int(row["last"])

    async def checkins(self, mac: str, limit: int = 500) -> list[dict[str, object]]:
        """Return a station's check-in history, newest first."""
        rows = await self._db.fetch_all(
            "SELECT at, rssi, uptime_s, free_heap, restart_cause, version, ip, bssid FROM checkins"
            " WHERE mac = ? ORDER BY id DESC LIMIT ?",
            (mac, limit),
        )
        return [dict(r) for r in rows]

    async def transfers(self, mac: str, limit: int = 20) -> list[dict[str, object]]:
        """Return a station's recent downloads, newest first."""
        rows = await self._db.fetch_all("SELECT * FROM transfers WHERE mac = ? ORDER BY id DESC LIMIT ?", (mac, limit))
        return [dict(r) for r in rows]

    async def full_downloads(self, mac: str, sha256: str, size: int) -> tuple[int, int]:
        """(count, last transfer id) of the station's downloads of an image to its last byte, counting only those
        since it last downloaded another image and since the admin last cleared an `update_not_taking` of it."""
        return await self._downloads.get((mac, sha256, size)) or (0, 0)

    async def _full_downloads_of(self, wanted: list[DownloadKey]) -> dict[DownloadKey, tuple[int, int]]:
        rows = await self._db.fetch_all(
            f"WITH wanted (mac, sha256, size) AS (VALUES {', '.join(['(?, ?, ?)'] * len(wanted))})"
            " SELECT w.mac, w.sha256, w.size, count(t.id) AS n, ifnull(max(t.id), 0) AS last FROM wanted w"
            " LEFT JOIN transfers t ON t.mac = w.mac AND t.sha256 = w.sha256 AND t.complete"
            " AND t.range_end = w.size - 1"
            " AND t.id > (SELECT ifnull(max(id), 0) FROM transfers o WHERE o.mac = w.mac AND o.sha256 <> w.sha256)"
            " AND t.id > (SELECT ifnull(max(json_extract(data, '$.last_transfer')), 0) FROM alerts a"
            "  WHERE a.kind = 'update_not_taking' AND a.mac = w.mac AND a.cleared_at IS NOT NULL"
            "  AND json_extract(a.data, '$.sha256') = w.sha256)"
            " GROUP BY w.mac, w.sha256, w.size",
            [value for key in wanted for value in key],
        )
        return {(str(r["mac"]), str(r["sha256"]), int(r["size"])): (int(r["n"]), int(r["last"])) for r in rows}


async def insert_event(
    conn: aiosqlite.Connection,
    *,
    at: float,
    kind: str,
    mac: str | None,
    message: str,
    data: dict[str, object],
    audit: bool = False,
) -> Event:
    """Append one event (`audit`: caused by the admin) and return it with its id."""
    cursor = await conn.execute(
        "INSERT INTO events (at, kind, mac, message, data, audit) VALUES (?, ?, ?, ?, ?, ?)",
        (at, kind, mac, message, json.dumps(data), int(audit)),
    )
    assert cursor.lastrowid is not None
    return Event(id=cursor.lastrowid, at=at, kind=kind, mac=mac, message=message, data=data, audit=audit)


async def maybe_insert_checkin(conn: aiosqlite.Connection, report: CheckIn, now: float, interval_s: float) -> bool:
    """Keep a history row if the last one is older than `interval_s` or the restart cause changed."""
    async with conn.execute(
        "SELECT last_history_at, restart_cause, uptime_s, version FROM stations WHERE mac = ?", (report.mac,)
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return False
    last_at, last_cause, last_uptime, last_version = row
    rebooted = report.uptime_s is not None and last_uptime is not None and report.uptime_s < last_uptime
    changed = rebooted or report.version not in (None, last_version) or report.restart_cause not in (None, last_cause)
    if last_at is not None and now - last_at < interval_s and not changed:
        return False
    await conn.execute(
        "INSERT INTO checkins (mac, at, rssi, uptime_s, free_heap, restart_cause, version, ip, bssid)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            report.mac,
            now,
            report.rssi,
            report.uptime_s,
            report.free_heap,
            report.restart_cause,
            report.version,
            report.ip,
            report.bssid,
        ),
    )
    await conn.execute("UPDATE stations SET last_history_at = ? WHERE mac = ?", (now, report.mac))
    return True


@dataclass(frozen=True, slots=True)
class TransferStart:
    """A download about to begin: which station, which image, which bytes (inclusive)."""

    mac: str
    sha256: str
    range_start: int
    range_end: int


async def start_transfers(conn: aiosqlite.Connection, starts: Sequence[TransferStart], now: float) -> list[int]:
    """Log the start of downloads in two statements however many they are; return their ids, in order."""
    # The writer holds the only write transaction, so the ids after the highest are free: numbering them here
    # lets one executemany insert them all and still tell each download its id.
    rows = await conn.execute_fetchall("SELECT ifnull(max(id), 0) FROM transfers")
    first = int(next(iter(rows))[0]) + 1
    ids = list(range(first, first + len(starts)))
    await conn.executemany(
        "INSERT INTO transfers (id, mac, sha256, started_at, range_start, range_end) VALUES (?, ?, ?, ?, ?, ?)",
        [(i, s.mac, s.sha256, now, s.range_start, s.range_end) for i, s in zip(ids, starts, strict=True)],
    )
    return ids


@dataclass(frozen=True, slots=True)
class TransferEnd:
    """How a download ended: the bytes the station acknowledged, and whether that was all it asked."""

    transfer_id: int
    bytes_sent: int
    complete: bool


async def finish_transfers(conn: aiosqlite.Connection, ends: Sequence[TransferEnd], now: float) -> None:
    """Log how downloads ended, in one statement however many they are."""
    await conn.executemany(
        "UPDATE transfers SET bytes_sent = ?, complete = ?, finished_at = ? WHERE id = ?",
        [(end.bytes_sent, int(end.complete), now, end.transfer_id) for end in ends],
    )


async def prune(
    conn: aiosqlite.Connection,
    *,
    now: float,
    checkin_days: float,
    event_days: float,
    event_rows: int,
    transfer_days: float | None = None,
) -> dict[str, int]:
    """Delete history past its retention and return how many rows of each kind went."""
    day = 86400.0
    gone = {}
    cursor = await conn.execute("DELETE FROM checkins WHERE at < ?", (now - checkin_days * day,))
    gone["checkins"] = cursor.rowcount
    kept = checkin_days if transfer_days is None else transfer_days
    cursor = await conn.execute("DELETE FROM transfers WHERE started_at < ?", (now - kept * day,))
    gone["transfers"] = cursor.rowcount
    cursor = await conn.execute("DELETE FROM events WHERE at < ?", (now - event_days * day,))
    gone["events"] = cursor.rowcount
    # The row cap bounds what stations and the service write; the admin's own trail (audit) is kept by age
    # alone, so that no flood of station traffic can push it out.
    cursor = await conn.execute(
        "DELETE FROM events WHERE audit = 0 AND id <"
        " (SELECT id FROM events WHERE audit = 0 ORDER BY id DESC LIMIT 1 OFFSET ?)",
        (max(event_rows - 1, 0),),
    )
    gone["events"] += cursor.rowcount
    return gone


def _event(row: sqlite3.Row) -> Event:
    return Event(
        id=row["id"],
        at=row["at"],
        kind=row["kind"],
        mac=row["mac"],
        message=row["message"],
        data=json.loads(row["data"]),
        audit=bool(row["audit"]),
    )
