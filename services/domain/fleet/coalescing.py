"""Check-ins that only say "still here" are held in memory and written together, once a minute.

At a site of 250 stations checking in every 30 s, writing each check-in on its own costs the SD card a WAL
page and a checkpoint page per check-in: gigabytes a day. Anything that changes something (a new station,
a status or token to settle, a restart, a new version or address, a command to deliver, an alert to raise
or clear) is still written before the station is answered.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import Any

import aiosqlite

from services.core.models import CheckIn
from services.store.journal import EventLog, Journal
from services.store.registry.checkin_buffer import VOLATILE_FIELDS, write_pending

log = logging.getLogger(__name__)

_COMPARED = tuple(f.name for f in dataclasses.fields(CheckIn) if f.name != "mac" and f.name not in VOLATILE_FIELDS)


class CheckinCoalescer:
    """Decides which check-ins may wait in memory, and writes them every `flush_interval_s` (0: never wait)."""

    def __init__(
        self,
        journal: Journal,
        *,
        flush_interval_s: float,
        history_interval_s: float,
        must_write: Callable[[str], bool] = lambda mac: False,
    ) -> None:
        self._journal = journal
        self._must_write = must_write  # other domain code that must see every check-in of some stations
        self._registry = journal.registry
        self._buffer = journal.registry.checkin_buffer
        self.flush_interval_s = flush_interval_s
        self.history_interval_s = history_interval_s
        self.held = 0  # check-ins answered from memory since start
        self.written = 0  # check-ins written at once

    async def hold(
        self,
        report: CheckIn,
        view: Mapping[str, Any] | None,
        *,
        authenticated: bool,
        quiet: bool = True,
        by_poll: bool = False,
    ) -> bool:
        """Hold the check-in in memory if it changes nothing that must be written now; True if held.

        `view` is `checkin_view` of the station, read just before; `quiet` that the check-in moves no alert;
        `by_poll` that it is a stock client's poll of /ota (no token to settle, no command to take, no sample).
        """
        if (
            self.flush_interval_s <= 0
            or view is None
            or not quiet
            or not (_arrived(view) if by_poll else _settled(view, authenticated))
            or self._must_write(report.mac)
        ):
            self.written += 1
            return False
        pending = self._buffer.get(report.mac)
        latest = pending.report if pending is not None else None
        if _changes_something(report, view, latest):
            self.written += 1
            return False
        now = self._journal.clock()
        known = [t for t in (view["last_history_at"], self._buffer.last_sample(report.mac)) if t is not None]
        sample = not by_poll and (not known or now - max(known) >= self.history_interval_s)
        self._buffer.put(report, now, sample=sample)
        self.held += 1
        if self._buffer.due(now, self.flush_interval_s):
            await self.flush()
        return True

    async def flush(self) -> int:
        """Write everything held; return how many stations' check-ins were written."""
        taken = self._buffer.take_all()
        if not taken:
            return 0

        async def op(entry: EventLog) -> int:
            return await write_pending(entry.conn, taken)

        try:
            await self._journal.write(op)
        except Exception:
            self._buffer.give_back(taken)
            raise
        finally:
            self._buffer.written(taken)
        return len(taken)

    async def flush_if_due(self) -> None:
        """Write what is held if the oldest of it has waited long enough (for quiet moments between check-ins)."""
        if self._buffer.due(self._journal.clock(), self.flush_interval_s):
            await self.flush()

    async def write_station(self, conn: aiosqlite.Connection, mac: str) -> None:
        """Inside a check-in's write: first write what is held of this station, so the row is current."""
        pending = self._buffer.take(mac)
        if pending is not None:
            await write_pending(conn, [pending])


def _settled(view: Mapping[str, Any], authenticated: bool) -> bool:
    """True when nothing about the station's admission waits on this check-in."""
    if view["commands_waiting"]:
        return False
    if view["status"] == "pending":
        return True
    return (
        view["status"] == "accepted"
        and authenticated
        and not view["token_unconfirmed"]
        and view["last_seen_at"] is not None
    )


def _arrived(view: Mapping[str, Any]) -> bool:
    """True when a poll can change nothing of the station's admission: pending, or accepted and seen before."""
    return view["status"] == "pending" or (view["status"] == "accepted" and view["last_seen_at"] is not None)


def _changes_something(report: CheckIn, view: Mapping[str, Any], latest: CheckIn | None) -> bool:
    for name in _COMPARED:
        value = getattr(report, name)
        # A field the row does not keep cannot be compared: write it, and let its owner decide.
        if value is not None and (name not in view or view[name] != value):
            return True
    previous = latest.uptime_s if latest is not None and latest.uptime_s is not None else view["uptime_s"]
    return report.uptime_s is not None and previous is not None and report.uptime_s < previous
