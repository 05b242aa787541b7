"""Stations going away: deleted by the admin, dropped when too many wait, expired when long unseen.

A pending station costs a row, its events and its history, and anyone on the LAN can make one with any
MAC: they are capped (the least recently seen go first, so a station that keeps checking in stays) and
expire when unseen. Deleting removes the registry rows in one transaction and, once it commits, whatever
memory holds of the station (held check-ins, the learned pace, signal counts, rollout watch, limits).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from appliance.contract.events import AlertKind
from services.core.macaddr import parse_mac
from services.core.models import Station
from services.domain.health.alerts import raise_alert
from services.store.journal import EventLog, Journal
from services.store.registry import stations as station_rows
from services.store.registry.health import add_to_open_alert

log = logging.getLogger(__name__)
DAY = 86400.0
CAP_ALERT: AlertKind = "pending_cap_reached"


@dataclass(frozen=True, slots=True)
class PendingPolicy:
    """How many stations may wait to be accepted, and for how long unseen."""

    max_pending: int = 1000
    expiry_days: float = 7


class StationRemoval:
    """Deletes stations and makes the rest of the service forget them."""

    def __init__(self, journal: Journal, policy: PendingPolicy) -> None:
        self._journal = journal
        self._registry = journal.registry
        self.policy = policy
        self._forgetters: list[Callable[[str], None]] = [journal.registry.checkin_buffer.forget]

    def also_forget(self, forget: Callable[[str], None]) -> None:
        """Have `forget(mac)` called once a station's deletion is committed (for what a component holds in memory)."""
        self._forgetters.append(forget)

    async def delete(self, mac: str) -> Station:
        """Delete a station at the admin's word, with everything that hangs off it; return it as it was."""
        station = await self._registry.stations.require(parse_mac(mac))

        async def op(entry: EventLog) -> None:
            removed = await self.remove(entry, station.mac)
            gone = ", ".join(f"{n} {what}" for what, n in removed.items() if n and what != "stations") or "no history"
            await entry(
                "station_deleted", station.mac, f"{station.name} ({station.mac}) deleted, with {gone}", **removed
            )

        await self._journal.write(op)
        return station

    async def remove(self, entry: EventLog, mac: str) -> dict[str, int]:
        """Inside a write: delete the station's rows; memory forgets it once the write commits."""
        removed = await station_rows.delete_station(entry.conn, mac, entry.now)
        entry.after_commit(lambda: self._forget(mac))
        return removed

    async def make_room(self, entry: EventLog, newcomer: str) -> None:
        """Inside the write that recorded a new pending station: drop the least recently seen ones past the cap."""
        held = self._registry.checkin_buffer.get
        dropped = await station_rows.oldest_pending(
            entry.conn, self.policy.max_pending, newcomer, lambda mac: held(mac) is not None
        )
        if not dropped:
            return
        for mac in dropped:
            await self.remove(entry, mac)
        # One alert for the whole episode, not an event per station: a flood must not become a flood of rows.
        cap = self.policy.max_pending
        await raise_alert(
            entry,
            CAP_ALERT,
            None,
            f"{cap} stations wait to be accepted (the most allowed, [stations] max_pending): the least recently"
            " seen are dropped to make room; a station that keeps checking in comes back",
            max_pending=cap,
        )
        await add_to_open_alert(entry.conn, CAP_ALERT, "dropped", len(dropped))

    async def expire(self) -> int:
        """Delete the pending stations not seen for the policy's days; return how many."""
        before = self._journal.clock() - self.policy.expiry_days * DAY
        if not await self._registry.stations.pending_unseen_since(before):
            return 0  # a read, not a write: the card is spared when there is nothing to do

        async def op(entry: EventLog) -> int:
            stale = await station_rows.pending_unseen_since(entry.conn, before)
            for mac in stale:
                await self.remove(entry, mac)
            if stale:
                days = f"{self.policy.expiry_days:g}"
                await entry(
                    "pending_expired",
                    None,
                    f"{len(stale)} pending station(s) not seen for {days} days removed: "
                    + ", ".join(stale[:20])
                    + (" …" if len(stale) > 20 else ""),
                    macs=stale[:100],
                )
            return len(stale)

        expired = await self._journal.write(op)
        if expired:
            log.info("removed %d pending station(s) not seen for %g days", expired, self.policy.expiry_days)
        return expired

    def _forget(self, mac: str) -> None:
        for forget in self._forgetters:
            forget(mac)
