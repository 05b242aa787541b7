"""The site's Wi-Fi networks: secrets handed only to accepted stations in their config."""

from __future__ import annotations

from services.registry.database import Database


class WifiTable:
    """Reads of the `site_wifi` table (the admin side arrives with onboarding)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def networks(self) -> list[dict[str, object]]:
        """Return every network, highest priority first, PSKs included: callers decide who sees them."""
        rows = await self._db.fetch_all(
            "SELECT ssid, psk, priority, hidden FROM site_wifi ORDER BY priority DESC, ssid"
        )
        return [
            {"ssid": r["ssid"], "psk": r["psk"], "priority": r["priority"], "hidden": bool(r["hidden"])} for r in rows
        ]
