"""The followed release feed in the registry: its settings, its counters and the images it refused."""

from __future__ import annotations

from typing import Any

import aiosqlite

from services.registry.database import Database


class FeedTable:
    """Reads of the `feed` and `feed_refusals` tables."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self) -> dict[str, Any] | None:
        """The followed feed's row, or None when the site follows none."""
        row = await self._db.fetch_one("SELECT * FROM feed WHERE id = 1")
        return None if row is None else dict(row)

    async def refusals(self) -> dict[str, dict[str, Any]]:
        """Refused images by SHA-256."""
        rows = await self._db.fetch_all("SELECT * FROM feed_refusals")
        return {row["sha256"]: dict(row) for row in rows}


async def follow(conn: aiosqlite.Connection, url: str, public_key: str, interval_s: int) -> None:
    """Follow a feed; a new URL or key starts its conditional-GET state afresh, the counters carry on."""
    await conn.execute(
        "INSERT INTO feed (id, url, public_key, interval_s) VALUES (1, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET url = excluded.url, public_key = excluded.public_key,"
        " interval_s = excluded.interval_s, etag = NULL, last_modified = NULL, sequence = NULL",
        (url, public_key, interval_s),
    )
    await conn.execute("DELETE FROM feed_refusals")


async def unfollow(conn: aiosqlite.Connection) -> bool:
    """Stop following; return False if no feed was followed."""
    cursor = await conn.execute("DELETE FROM feed WHERE id = 1")
    await conn.execute("DELETE FROM feed_refusals")
    return cursor.rowcount == 1


async def record_sync(conn: aiosqlite.Connection, **changes: Any) -> None:
    """Update the feed row: plain columns are set, `add_*` columns are added to."""
    sets, params = [], []
    for name, value in changes.items():
        if name.startswith("add_"):
            sets.append(f"{name[4:]} = {name[4:]} + ?")
        else:
            sets.append(f"{name} = ?")
        params.append(value)
    await conn.execute(f"UPDATE feed SET {', '.join(sets)} WHERE id = 1", params)


async def refuse(conn: aiosqlite.Connection, sha256: str, sequence: int, reason: str, at: float) -> None:
    """Remember that this image was refused in this feed sequence."""
    await conn.execute(
        "INSERT INTO feed_refusals (sha256, sequence, reason, refused_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (sha256) DO UPDATE SET sequence = excluded.sequence, reason = excluded.reason,"
        " refused_at = excluded.refused_at",
        (sha256, sequence, reason, at),
    )
