"""What each station was sent of its config and what it has applied: the base of Wi-Fi acknowledgements."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import aiosqlite

from services.core.models import ConfigState
from services.store.registry.database import Database


class ConfigTable:
    """Reads of the `station_config` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, mac: str) -> ConfigState | None:
        """What one station was sent and applied, or None if it never fetched its config."""
        row = await self._db.fetch_one("SELECT * FROM station_config WHERE mac = ?", (mac,))
        return None if row is None else config_state(row)

    async def all(self) -> dict[str, ConfigState]:
        """Every station's config state, by MAC."""
        return {r["mac"]: config_state(r) for r in await self._db.fetch_all("SELECT * FROM station_config")}


async def state_in(conn: aiosqlite.Connection, mac: str) -> ConfigState | None:
    """One station's config state, read inside the writer's transaction."""
    async with conn.execute("SELECT * FROM station_config WHERE mac = ?", (mac,)) as cursor:
        row = await cursor.fetchone()
    return None if row is None else config_state(row)


async def states_in(conn: aiosqlite.Connection) -> list[ConfigState]:
    """Every station's config state, inside the writer's transaction."""
    async with conn.execute("SELECT * FROM station_config") as cursor:
        return [config_state(r) for r in await cursor.fetchall()]


async def record_sent(conn: aiosqlite.Connection, mac: str, etag: str, wifi: Iterable[int], now: float) -> None:
    """Remember the config (its ETag and network ids) just sent to a station."""
    await conn.execute(
        "INSERT INTO station_config (mac, sent_etag, sent_wifi, sent_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (mac) DO UPDATE SET sent_etag = excluded.sent_etag, sent_wifi = excluded.sent_wifi,"
        " sent_at = excluded.sent_at",
        (mac, etag, _ids(wifi), now),
    )


async def record_applied(conn: aiosqlite.Connection, mac: str, etag: str, now: float) -> tuple[int, ...] | None:
    """Note the ETag a station reports as applied; return the network ids it newly acknowledges, if any."""
    state = await state_in(conn, mac)
    if state is not None and state.applied_etag == etag:
        return None  # nothing new: most check-ins cost no write at all
    await conn.execute(
        "INSERT INTO station_config (mac, applied_etag, applied_at) VALUES (?, ?, ?)"
        " ON CONFLICT (mac) DO UPDATE SET applied_etag = excluded.applied_etag, applied_at = excluded.applied_at",
        (mac, etag, now),
    )
    if state is None or state.sent_etag != etag or state.sent_wifi == state.acked_wifi:
        return None  # an ETag we did not send last (or one that changes nothing) proves nothing about networks
    await acknowledge(conn, mac, state.sent_wifi, now)
    return state.sent_wifi


async def acknowledge(conn: aiosqlite.Connection, mac: str, wifi: Iterable[int], now: float) -> None:
    """Record that a station holds these networks (from a config it applied, or from its bundle's NVS)."""
    await conn.execute(
        "INSERT INTO station_config (mac, acked_wifi, acked_at) VALUES (?, ?, ?)"
        " ON CONFLICT (mac) DO UPDATE SET acked_wifi = excluded.acked_wifi, acked_at = excluded.acked_at",
        (mac, _ids(wifi), now),
    )


def config_state(row: Any) -> ConfigState:
    """A `station_config` row as a value."""
    return ConfigState(
        mac=str(row[0]),
        sent_etag=row[1],
        sent_wifi=tuple(json.loads(row[2])),
        applied_etag=row[4],
        acked_wifi=tuple(json.loads(row[6])),
        acked_at=row[7],
    )


def _ids(wifi: Iterable[int]) -> str:
    return json.dumps(sorted(set(wifi)))
