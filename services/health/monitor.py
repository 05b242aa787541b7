"""The sweep that notices what no check-in can tell: stations that fell silent, alerts of stations gone."""

from __future__ import annotations

import logging

from services.fleet.journal import EventLog, Journal
from services.health.alerts import clear_alert, raise_alert
from services.health.states import Presence

log = logging.getLogger(__name__)


class HealthMonitor:
    """Raises `offline` for accepted stations silent past the limit; clears alerts of stations no longer in service."""

    def __init__(self, journal: Journal, presence: Presence) -> None:
        self._journal = journal
        self._registry = journal.registry
        self.presence = presence

    async def sweep(self) -> int:
        """Look at every station once; return how many alerts were raised or cleared."""
        now = self._journal.clock()
        stations = await self._registry.stations.all()
        open_alerts = await self._registry.health.alerts(open_only=True, limit=100_000)
        offline_open = {a.mac for a in open_alerts if a.kind == "offline"}
        silent = [
            s
            for s in stations
            if s.status == "accepted"
            and s.last_seen_at is not None
            and now - s.last_seen_at > self.presence.paced(s.seen_period_s).offline_after_s
            and s.mac not in offline_open
        ]
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
                assert station.last_seen_at is not None
                minutes = (entry.now - station.last_seen_at) / 60
                interval = self.presence.paced(station.seen_period_s).poll_interval_s
                missed = int((entry.now - station.last_seen_at) // interval)
                alert = await raise_alert(
                    entry,
                    "offline",
                    station.mac,
                    f"{station.name} is offline: no check-in for {minutes:.0f} min ({missed} missed)",
                    last_seen_at=station.last_seen_at,
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
