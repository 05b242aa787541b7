"""The site's Wi-Fi networks: secrets handed only to accepted stations in their config."""

from __future__ import annotations

import sqlite3
from typing import Any

import aiosqlite

from services.core.errors import Conflict, NotFound
from services.core.models import SiteNetwork
from services.store.registry.database import Database


class WifiTable:
    """Reads of the `site_wifi` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def all(self) -> list[SiteNetwork]:
        """Every network, highest priority first (fallbacks last), passphrases included: callers decide who sees."""
        rows = await self._db.fetch_all("SELECT * FROM site_wifi ORDER BY fallback, priority DESC, id")
        return [network(r) for r in rows]

    async def networks(self) -> list[dict[str, object]]:
        """Every network as a station's config lists it, PSKs included."""
        return [config_entry(n) for n in await self.all()]

    async def named(self, ssid: str) -> SiteNetwork:
        """The network with this SSID, or NotFound."""
        row = await self._db.fetch_one("SELECT * FROM site_wifi WHERE ssid = ?", (ssid,))
        if row is None:
            raise NotFound(f"the site has no network {ssid!r}")
        return network(row)


def config_entry(net: SiteNetwork) -> dict[str, object]:
    """A network as it appears in a station's config (`wifi` list)."""
    return {"ssid": net.ssid, "psk": net.psk, "priority": net.priority, "hidden": net.hidden, "fallback": net.fallback}


async def networks_in(conn: aiosqlite.Connection) -> list[SiteNetwork]:
    """Every network, read inside the writer's transaction."""
    async with conn.execute("SELECT * FROM site_wifi ORDER BY fallback, priority DESC, id") as cursor:
        rows = await cursor.fetchall()
    return [network(r) for r in rows]


async def insert_network(conn: aiosqlite.Connection, net: SiteNetwork, now: float) -> SiteNetwork:
    """Add a network; Conflict if its SSID is already one of the site's."""
    try:
        cursor = await conn.execute(
            "INSERT INTO site_wifi (ssid, psk, priority, hidden, fallback, added_at) VALUES (?, ?, ?, ?, ?, ?)",
            (net.ssid, net.psk, net.priority, int(net.hidden), int(net.fallback), now),
        )
    except sqlite3.IntegrityError:
        raise Conflict(f"the site already has a network {net.ssid!r}; remove it first to change it") from None
    assert cursor.lastrowid is not None
    return SiteNetwork(cursor.lastrowid, net.ssid, net.psk, net.priority, net.hidden, net.fallback, now)


async def delete_network(conn: aiosqlite.Connection, network_id: int) -> None:
    """Remove a network by id."""
    await conn.execute("DELETE FROM site_wifi WHERE id = ?", (network_id,))


def network(row: Any) -> SiteNetwork:
    """A `site_wifi` row (a reader's Row or a writer's tuple, `SELECT *` column order) as a value."""
    return SiteNetwork(
        id=int(row[0]),
        ssid=str(row[1]),
        psk=str(row[2]),
        priority=int(row[3]),
        hidden=bool(row[4]),
        fallback=bool(row[5]),
        added_at=float(row[6]),
    )
