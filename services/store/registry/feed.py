"""The followed release feed in the registry: its settings, its counters and the images it refused."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiosqlite

from services.store.registry.database import Database


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


@dataclass(frozen=True, slots=True)
class Followed:
    """What following a feed changed."""

    same: bool  # the URL and key already followed: nothing was reset
    previous_url: str | None  # the feed followed until now, when it was another URL or key
    sequence: int | None  # the newest signed sequence this site holds the feed to (None: any)


async def follow(conn: aiosqlite.Connection, url: str, public_key: str, interval_s: int) -> Followed:
    """Follow a feed; the same URL and key keep everything, another one starts afresh (the counters carry on).

    Afresh means its conditional-GET state and refusals, and the newest sequence this site saw of that very
    feed (URL and key) before, if it ever followed it: replay protection never goes back for a feed it knows.
    """
    async with conn.execute("SELECT url, public_key, sequence FROM feed WHERE id = 1") as cursor:
        row = await cursor.fetchone()
    if row is not None and (row[0], row[1]) == (url, public_key):
        await conn.execute("UPDATE feed SET interval_s = ? WHERE id = 1", (interval_s,))
        return Followed(same=True, previous_url=None, sequence=row[2])
    async with conn.execute(
        "SELECT sequence FROM feed_sequences WHERE url = ? AND public_key = ?", (url, public_key)
    ) as cursor:
        seen = await cursor.fetchone()
    sequence = None if seen is None else int(seen[0])
    await conn.execute(
        "INSERT INTO feed (id, url, public_key, interval_s, sequence) VALUES (1, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET url = excluded.url, public_key = excluded.public_key,"
        " interval_s = excluded.interval_s, etag = NULL, last_modified = NULL, sequence = excluded.sequence",
        (url, public_key, interval_s, sequence),
    )
    await conn.execute("DELETE FROM feed_refusals")
    return Followed(same=False, previous_url=None if row is None else str(row[0]), sequence=sequence)


async def unfollow(conn: aiosqlite.Connection) -> bool:
    """Stop following; return False if no feed was followed."""
    cursor = await conn.execute("DELETE FROM feed WHERE id = 1")
    await conn.execute("DELETE FROM feed_refusals")
    return cursor.rowcount == 1


async def record_sync(conn: aiosqlite.Connection, **changes: Any) -> None:
    """Update the feed row: plain columns are set, `add_*` columns are added to; a sequence is remembered."""
    sets, params = [], []
    for name, value in changes.items():
        if name.startswith("add_"):
            sets.append(f"{name[4:]} = {name[4:]} + ?")
        else:
            sets.append(f"{name} = ?")
        params.append(value)
    await conn.execute(f"UPDATE feed SET {', '.join(sets)} WHERE id = 1", params)
    if changes.get("sequence") is not None:
        await conn.execute(
            "INSERT INTO feed_sequences (url, public_key, sequence) SELECT url, public_key, sequence FROM feed"
            " WHERE id = 1 ON CONFLICT (url, public_key) DO UPDATE SET sequence = max(sequence, excluded.sequence)"
        )


async def refuse(conn: aiosqlite.Connection, sha256: str, sequence: int, reason: str, at: float) -> None:
    """Remember that this image was refused in this feed sequence."""
    await conn.execute(
        "INSERT INTO feed_refusals (sha256, sequence, reason, refused_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (sha256) DO UPDATE SET sequence = excluded.sequence, reason = excluded.reason,"
        " refused_at = excluded.refused_at",
        (sha256, sequence, reason, at),
    )
