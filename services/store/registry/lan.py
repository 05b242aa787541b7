"""What mDNS shows on the LAN, linked to known stations by MAC, address or host name."""

from __future__ import annotations

import json

import aiosqlite

from services.store.registry.database import Database


class LanTable:
    """Reads of the `lan_services` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def all(self) -> list[dict[str, object]]:
        """Every service seen on the LAN, with the station it belongs to where that can be told."""
        rows = await self._db.fetch_all(
            "SELECT lan.*, (SELECT s.mac FROM stations s WHERE s.mac = lan.mac OR s.ip = lan.address"
            "   OR lower(s.name) || '.local.' = lower(lan.host) LIMIT 1) AS station"
            " FROM lan_services lan ORDER BY lan.host, lan.type"
        )
        services = []
        for row in rows:
            item = dict(row)
            item["txt"] = json.loads(row["txt"])
            services.append(item)
        return services


async def upsert_service(
    conn: aiosqlite.Connection,
    *,
    name: str,
    type_: str,
    host: str | None,
    address: str | None,
    port: int | None,
    txt: dict[str, str],
    board: str | None,
    mac: str | None,
    now: float,
) -> bool:
    """Record a service as seen now; return True if it is new."""
    cursor = await conn.execute("SELECT 1 FROM lan_services WHERE name = ?", (name,))
    known = await cursor.fetchone() is not None
    await conn.execute(
        "INSERT INTO lan_services (name, type, host, address, port, txt, board, mac, first_seen_at, last_seen_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET type = excluded.type,"
        " host = excluded.host, address = excluded.address, port = excluded.port, txt = excluded.txt,"
        " board = excluded.board, mac = excluded.mac, last_seen_at = excluded.last_seen_at",
        (name, type_, host, address, port, json.dumps(txt), board, mac, now, now),
    )
    return not known


async def remove_service(conn: aiosqlite.Connection, name: str) -> bool:
    """Forget a service that went away; return True if it was known."""
    cursor = await conn.execute("DELETE FROM lan_services WHERE name = ?", (name,))
    return cursor.rowcount > 0


async def clear(conn: aiosqlite.Connection) -> None:
    """Forget everything seen (at start-up: what was there before may be gone)."""
    await conn.execute("DELETE FROM lan_services")
