"""Every moment the registry stores, read and moved together when the service's clock is stepped."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

# Columns holding a moment that has passed: the latest of them is the latest time the service ever told.
PAST: tuple[tuple[str, str], ...] = (
    ("stations", "created_at"),
    ("stations", "last_seen_at"),
    ("stations", "last_history_at"),
    ("stations", "key_pinned_at"),
    ("images", "imported_at"),
    ("assignments", "created_at"),
    ("events", "at"),
    ("checkins", "at"),
    ("transfers", "started_at"),
    ("transfers", "finished_at"),
    ("lan_services", "first_seen_at"),
    ("lan_services", "last_seen_at"),
    ("feed", "last_sync_at"),
    ("feed_refusals", "refused_at"),
    ("site_wifi", "added_at"),
    ("provisions", "created_at"),
    ("provisions", "arrived_at"),
    ("provisions", "cancelled_at"),
    ("station_config", "sent_at"),
    ("station_config", "applied_at"),
    ("station_config", "acked_at"),
    ("rollouts", "created_at"),
    ("rollouts", "paused_at"),
    ("rollouts", "finished_at"),
    ("rollout_stations", "initiated_at"),
    ("rollout_stations", "first_poll_at"),
    ("rollout_stations", "download_started_at"),
    ("rollout_stations", "downloaded_at"),
    ("rollout_stations", "came_back_at"),
    ("rollout_stations", "finished_at"),
    ("restarts", "at"),
    ("alerts", "raised_at"),
    ("alerts", "cleared_at"),
    ("commands", "created_at"),
    ("commands", "delivered_at"),
    ("commands", "finished_at"),
)
# Columns holding a moment still to come: what is left of each wait is kept when the clock moves.
DEADLINES: tuple[tuple[str, str], ...] = (
    ("commands", "expires_at"),
    ("rollout_stations", "deadline_at"),
    ("rollout_stations", "soak_until"),
)


@dataclass(frozen=True, slots=True)
class ClockRecord:
    """The `clock` row: stamps taken while the clock was not synchronised, and the span retention holds."""

    untrusted_from: float | None = None
    hold_from: float | None = None
    hold_until: float | None = None


async def latest_stamp(conn: aiosqlite.Connection) -> float | None:
    """The latest moment stored anywhere (deadlines aside), or None in an empty registry."""
    parts = " UNION ALL ".join(f"SELECT max({column}) AS at FROM {table}" for table, column in PAST)
    async with conn.execute(f"SELECT max(at) FROM ({parts})") as cursor:
        row = await cursor.fetchone()
    return None if row is None or row[0] is None else float(row[0])


async def redate(conn: aiosqlite.Connection, since: float, delta: float) -> int:
    """Move every moment at or after `since` by `delta` seconds, in the current transaction; return how many rows."""
    moved = 0
    for table, column in PAST + DEADLINES:
        cursor = await conn.execute(f"UPDATE {table} SET {column} = {column} + ? WHERE {column} >= ?", (delta, since))
        moved += cursor.rowcount
    # A summary moved onto one already there would break the key: it stays where it was (summaries are hours).
    cursor = await conn.execute(
        "UPDATE OR IGNORE checkin_rollups SET start = start + ? WHERE start >= ?", (delta, since)
    )
    moved += cursor.rowcount
    for column in ("untrusted_from", "hold_from", "hold_until"):
        await conn.execute(f"UPDATE clock SET {column} = {column} + ? WHERE {column} >= ?", (delta, since))
    return moved


async def read_clock(conn: aiosqlite.Connection) -> ClockRecord:
    """The `clock` row, inside the writer's transaction."""
    async with conn.execute("SELECT untrusted_from, hold_from, hold_until FROM clock WHERE id = 1") as cursor:
        row = await cursor.fetchone()
    return ClockRecord() if row is None else ClockRecord(*row)


async def write_clock(conn: aiosqlite.Connection, record: ClockRecord) -> None:
    """Replace the `clock` row."""
    await conn.execute(
        "UPDATE clock SET untrusted_from = ?, hold_from = ?, hold_until = ? WHERE id = 1",
        (record.untrusted_from, record.hold_from, record.hold_until),
    )
