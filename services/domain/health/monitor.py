"""The sweep that notices what no check-in can tell: stations that fell silent, alerts of stations gone."""

from __future__ import annotations

import logging
from collections.abc import Callable

from services.domain.health.alerts import clear_alert, raise_alert
from services.domain.health.states import Presence
from services.store.journal import EventLog, Journal
from services.store.registry.stations import Whereabouts

log = logging.getLogger(__name__)


class HealthMonitor:
    """Raises `offline` for accepted stations silent past the limit; clears alerts of stations no longer in service.

    Silence is counted on the service's clock, and never from before `watching_since()` (when the service
    started): a station is given its full allowance to be heard again before it is judged.
    """

    def __init__(self, journal: Journal, presence: Presence, watching_since: Callable[[], float] | None = None) -> None:
        self._journal = journal
        self._registry = journal.registry
        self.presence = presence
        self._watching_since = watching_since

    async def sweep(self) -> int:
        """Look at every station once; return how many alerts were raised or cleared."""
        stations = await self._registry.stations.whereabouts()
        open_alerts = await self._registry.health.alerts(open_only=True, limit=100_000)
        offline_open = {a.mac for a in open_alerts if a.kind == "offline"}
        now = self._journal.clock()
        silent = [s for s in stations if s.mac not in offline_open and self._silent(s, s.last_seen_at, now)]
        in_service = {s.mac for s in stations if s.status == "accepted"}
        # Another device claiming a station matters while it waits to be accepted too.
        claimable = in_service | {s.mac for s in stations if s.status == "pending"}
        orphaned = [
            a
            for a in open_alerts
            if a.mac is not None and a.mac not in (claimable if a.kind == "station_claimed_twice" else in_service)
        ]
        if not silent and not orphaned:
            return 0

        async def op(entry: EventLog) -> int:
            changed = 0
            for station in silent:
                # Judged again from the row as it stands now: a check-in (or a step of the clock, which moves
                # every stamp) may have come between the read above and this transaction.
                last_seen_at = await self._last_seen_in(entry, station.mac)
                if last_seen_at is None or not self._silent(station, last_seen_at, entry.now):
                    continue
                minutes = (entry.now - last_seen_at) / 60
                interval = self.presence.paced(station.seen_period_s).poll_interval_s
                missed = int((entry.now - last_seen_at) // interval)
                alert = await raise_alert(
                    entry,
                    "offline",
                    station.mac,
                    f"{station.name} is offline: no check-in for {minutes:.0f} min ({missed} missed)",
                    last_seen_at=last_seen_at,
                )
                changed += alert is not None
            for alert in orphaned:
                cleared = await clear_alert(entry, alert.kind, alert.mac, "the station is no longer in service")
                changed += cleared is not None
            return changed

        changed = await self._journal.write(op)
        if changed:
            log.info("health sweep raised or cleared %d alert(s)", changed)
        return changed

    def _silent(self, station: Whereabouts, last_seen_at: float | None, now: float) -> bool:
        if station.status != "accepted" or last_seen_at is None:
            return False
        since = last_seen_at if self._watching_since is None else max(last_seen_at, self._watching_since())
        return now - since > self.presence.paced(station.seen_period_s).offline_after_s

    async def _last_seen_in(self, entry: EventLog, mac: str) -> float | None:
        """The station's last sign of life inside the transaction, its check-ins held in memory included."""
        held = self._registry.checkin_buffer.get(mac)
        async with entry.conn.execute("SELECT last_seen_at FROM stations WHERE mac = ?", (mac,)) as cursor:
            row = await cursor.fetchone()
        seen = [t for t in (row[0] if row else None, held.at if held is not None else None) if t is not None]
        return max(seen) if seen else None
