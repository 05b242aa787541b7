"""Alerts and restarts in the registry."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import aiosqlite

from services.core.models import Alert, Restart
from services.store.registry.database import Database


class HealthTable:
    """Reads of the `alerts`, `restarts` and `restart_counts` tables."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def alerts(self, *, open_only: bool = True, mac: str | None = None, limit: int = 500) -> list[Alert]:
        """Alerts newest first: the open ones, or every one kept."""
        where, params = ["1"], []
        if open_only:
            where.append("cleared_at IS NULL")
        if mac is not None:
            where.append("mac = ?")
            params.append(mac)
        rows = await self._db.fetch_all(
            f"SELECT * FROM alerts WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?", (*params, limit)
        )
        return [_alert(dict(r)) for r in rows]

    async def open_count(self) -> int:
        """How many alerts are open."""
        row = await self._db.fetch_one("SELECT count(*) FROM alerts WHERE cleared_at IS NULL")
        return int(row[0]) if row else 0

    async def alert(self, alert_id: int) -> Alert | None:
        """One alert, or None."""
        row = await self._db.fetch_one("SELECT * FROM alerts WHERE id = ?", (alert_id,))
        return None if row is None else _alert(dict(row))

    async def restarts(self, mac: str, limit: int = 100) -> list[Restart]:
        """A station's restarts, newest first."""
        rows = await self._db.fetch_all("SELECT * FROM restarts WHERE mac = ? ORDER BY id DESC LIMIT ?", (mac, limit))
        return [Restart(**dict(r)) for r in rows]

    async def rollups(self, mac: str, span_s: int, limit: int = 500) -> list[dict[str, object]]:
        """A station's summarised history at `span_s` (3600 or 86400), newest first."""
        rows = await self._db.fetch_all(
            "SELECT start, span_s, samples, rssi_min, rssi_max, rssi_avg, heap_min, uptime_max, version"
            " FROM checkin_rollups WHERE mac = ? AND span_s = ? ORDER BY start DESC LIMIT ?",
            (mac, span_s, limit),
        )
        return [dict(r) for r in rows]

    async def restart_counts(self) -> list[tuple[str, str, int]]:
        """(MAC, cause, restarts ever) for every station that restarted."""
        rows = await self._db.fetch_all("SELECT mac, cause, count FROM restart_counts ORDER BY mac, cause")
        return [(str(r["mac"]), str(r["cause"]), int(r["count"])) for r in rows]


async def open_alert(
    conn: aiosqlite.Connection, *, kind: str, mac: str | None, message: str, data: dict[str, Any], now: float
) -> Alert | None:
    """Store a newly raised alert and return it; None when one of this kind is already open for `mac`."""
    cursor = await conn.execute(
        "INSERT INTO alerts (kind, mac, message, data, raised_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (kind, mac, message, json.dumps(data, sort_keys=True), now),
    )
    if cursor.rowcount != 1 or cursor.lastrowid is None:
        return None
    return Alert(cursor.lastrowid, kind, mac, message, now, data)


async def close_alert(
    conn: aiosqlite.Connection,
    *,
    now: float,
    message: str,
    kind: str | None = None,
    mac: str | None = None,
    alert_id: int | None = None,
) -> Alert | None:
    """Clear the open alert of `kind` for `mac` (or the one with `alert_id`); return it, or None if none was open."""
    params: list[object]
    if alert_id is not None:
        where, params = "id = ?", [alert_id]
    else:
        where, params = "kind = ? AND ifnull(mac, '') = ifnull(?, '')", [kind, mac]
    async with conn.execute(f"SELECT * FROM alerts WHERE {where} AND cleared_at IS NULL", params) as cursor:
        row = await cursor.fetchone()
        names = [d[0] for d in cursor.description]
    if row is None:
        return None
    values = dict(zip(names, row, strict=True))
    await conn.execute(
        "UPDATE alerts SET cleared_at = ?, cleared_message = ? WHERE id = ?", (now, message, values["id"])
    )
    values.update(cleared_at=now, cleared_message=message)
    return _alert(values)


async def open_alerts_for(conn: aiosqlite.Connection, mac: str) -> dict[str, Alert]:
    """A station's open alerts by kind, read inside the writer's transaction."""
    async with conn.execute("SELECT * FROM alerts WHERE mac = ? AND cleared_at IS NULL", (mac,)) as cursor:
        rows = await cursor.fetchall()
        names = [d[0] for d in cursor.description]
    alerts = [_alert(dict(zip(names, row, strict=True))) for row in rows]
    return {a.kind: a for a in alerts}


async def insert_restart(conn: aiosqlite.Connection, restart: Restart) -> Restart:
    """Record a restart and count it by cause; return it with its id."""
    cursor = await conn.execute(
        "INSERT INTO restarts (mac, at, cause, kind, reset_reason, firmware_cause, uptime_before, version)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            restart.mac,
            restart.at,
            restart.cause,
            restart.kind,
            restart.reset_reason,
            restart.firmware_cause,
            restart.uptime_before,
            restart.version,
        ),
    )
    await conn.execute(
        "INSERT INTO restart_counts (mac, cause, count) VALUES (?, ?, 1)"
        " ON CONFLICT (mac, cause) DO UPDATE SET count = count + 1",
        (restart.mac, restart.cause),
    )
    assert cursor.lastrowid is not None
    return dataclasses.replace(restart, id=cursor.lastrowid)


async def unplanned_restarts_since(conn: aiosqlite.Connection, mac: str, since: float) -> int:
    """How many restarts nobody asked for the station had since `since`."""
    async with conn.execute(
        "SELECT count(*) FROM restarts WHERE mac = ? AND at >= ? AND kind <> 'planned'", (mac, since)
    ) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def prune(conn: aiosqlite.Connection, *, alerts_before: float, restarts_before: float) -> dict[str, int]:
    """Delete cleared alerts and restarts past their retention; return how many of each went."""
    alerts = await conn.execute("DELETE FROM alerts WHERE cleared_at IS NOT NULL AND cleared_at < ?", (alerts_before,))
    restarts = await conn.execute("DELETE FROM restarts WHERE at < ?", (restarts_before,))
    return {"alerts": alerts.rowcount, "restarts": restarts.rowcount}


def _alert(values: dict[str, Any]) -> Alert:
    return Alert(
        id=values["id"],
        kind=values["kind"],
        mac=values["mac"],
        message=values["message"],
        raised_at=values["raised_at"],
        data=json.loads(values["data"]) if isinstance(values["data"], str) else values["data"],
        cleared_at=values["cleared_at"],
        cleared_message=values["cleared_message"],
    )


async def add_to_open_alert(conn: aiosqlite.Connection, kind: str, key: str, count: int) -> None:
    """Add `count` to the number `key` in the data of the open site-wide alert of `kind` (what it has seen so far)."""
    await conn.execute(
        "UPDATE alerts SET data = json_set(data, '$.' || ?1, ifnull(json_extract(data, '$.' || ?1), 0) + ?2)"
        " WHERE kind = ?3 AND mac IS NULL AND cleared_at IS NULL",
        (key, count, kind),
    )
