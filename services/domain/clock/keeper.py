"""The timekeeper: keeps the service's timeline on the wall clock, and every stored stamp on the timeline.

NTP slewing is followed quietly. A step of the wall clock (or the timeline leaving a stale clock once it is
synchronised) moves the timeline and every stamp taken since its last move together, in one transaction no
query overlaps, so that no wait anyone measures (silence, soak, deadlines, time-to-live) gains or loses the
step. Each such move is an event with its size.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from services.domain.clock.timeline import STEP_S, Timeline, aim
from services.domain.clock.trust import ClockTrust
from services.store.journal import EventLog, Journal
from services.store.registry.stamps import ClockRecord, latest_stamp, read_clock, redate, write_clock

log = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[bool | None]]
TICK_S = 1.0  # how often the wall clock is compared with the timeline
PROBE_EVERY_S = 5.0  # how often the system is asked whether the clock is synchronised
# A stale clock is lifted to just after the latest stored stamp, so that what comes next sorts after it.
_AFTER_S = 0.001


class Shiftable(Protocol):
    """Something that holds moments in memory (held check-ins, reservations)."""

    def shift(self, delta: float) -> None:
        """Move every moment held by `delta` seconds."""


@dataclass(frozen=True, slots=True)
class ClockStep:
    """The last time the timeline moved: when (after the move) and by how much."""

    at: float
    size_s: float


class Timekeeper:
    """`start()` before anything is stamped, then `run()` until cancelled; `trust()` for retention."""

    def __init__(self, journal: Journal, timeline: Timeline, probe: Probe, holders: Sequence[Shiftable] = ()) -> None:
        self._journal = journal
        self.timeline = timeline
        self._probe = probe
        self.holders = list(holders)
        self.synchronised: bool | None = None
        self.last_step: ClockStep | None = None
        self._record = ClockRecord()
        # Stamps at or after this were taken by this run since the timeline last moved: a move takes them along.
        self._since = timeline()
        # The first stamp of earlier runs that ended before the clock was synchronised (never re-dated).
        self._earlier_untrusted: float | None = None
        self._probed_at = -math.inf
        self._wall_offset = timeline.wall_offset()  # where the wall clock stood at the last look

    def trust(self) -> ClockTrust:
        """What retention may believe of the stored stamps now."""
        return ClockTrust(self.synchronised, self._record.hold_from, self._record.hold_until)

    async def start(self) -> None:
        """Learn whether the clock is synchronised; a clock that is not and is behind the latest stored stamp is
        counted on from that stamp (what was stored stays in the past)."""
        self.synchronised = await self._probe()
        self._probed_at = time.monotonic()
        self._record = await self._journal.write(self._start)
        self._since = self.timeline()

    async def run(self) -> None:
        """Compare the wall clock with the timeline every second, until cancelled."""
        while True:
            await asyncio.sleep(TICK_S)
            try:
                await self.check()
            except Exception:
                log.exception("keeping the clock failed; trying again")

    async def check(self) -> None:
        """Ask whether the clock is synchronised (now and then), then follow the wall clock or step with it."""
        if time.monotonic() - self._probed_at >= PROBE_EVERY_S:
            self._probed_at = time.monotonic()
            synchronised = await self._probe()
            if synchronised != self.synchronised:
                await self._synchronisation_changed(synchronised)
        timeline = self.timeline
        current = timeline.wall_offset()
        jump, self._wall_offset = current - self._wall_offset, current
        target = aim(current, timeline.offset, self.synchronised)
        move = target - timeline.offset
        if abs(move) <= STEP_S:
            timeline.offset = target  # NTP's slewing, followed quietly
            move = 0.0
        if abs(jump) > STEP_S or move:
            await self._move(move, jump)

    async def _start(self, entry: EventLog) -> ClockRecord:
        record = await read_clock(entry.conn)
        timeline = self.timeline
        if self.synchronised is False:
            latest = await latest_stamp(entry.conn)
            if latest is not None and latest > entry.now:
                wall = timeline.wall()
                timeline.offset += latest + _AFTER_S - entry.now
                entry.now = timeline()
                await entry(
                    "clock_behind",
                    None,
                    f"the clock says {_moment(wall)}, before the latest stored time ({_moment(latest)}), and is not"
                    " synchronised: the service counts on from the latest stored time until it is",
                    clock=wall,
                    latest=latest,
                )
            self._earlier_untrusted = record.untrusted_from
            if record.untrusted_from is None:
                record = replace(record, untrusted_from=entry.now)
        elif record.untrusted_from is not None:
            record = await self._hold_earlier(entry, record, record.untrusted_from)
        await write_clock(entry.conn, record)
        return record

    async def _synchronisation_changed(self, synchronised: bool | None) -> None:
        self.synchronised = synchronised

        async def op(entry: EventLog) -> ClockRecord:
            record = await read_clock(entry.conn)
            wall = self.timeline.wall()
            if synchronised is False:
                if record.untrusted_from is None:
                    record = replace(record, untrusted_from=entry.now)
                await entry(
                    "clock_unsynchronised",
                    None,
                    f"the clock is no longer synchronised (it says {_moment(wall)})",
                    clock=wall,
                )
            else:
                if self._earlier_untrusted is not None:
                    record = await self._hold_earlier(entry, record, self._earlier_untrusted)
                    self._earlier_untrusted = None
                # What this run stamped meanwhile moves with the timeline, now that it takes the wall clock's time.
                record = replace(record, untrusted_from=None)
                if synchronised:
                    await entry("clock_synchronised", None, f"the clock is synchronised: {_moment(wall)}", clock=wall)
            await write_clock(entry.conn, record)
            return record

        self._record = await self._journal.write(op)

    async def _hold_earlier(self, entry: EventLog, record: ClockRecord, since: float) -> ClockRecord:
        """Keep what earlier runs stamped before the clock was synchronised from deletion by age, for now."""
        start = since if record.hold_from is None else min(since, record.hold_from)
        await entry(
            "history_held",
            None,
            f"history stamped from {_moment(start)} to {_moment(entry.now)} may be misdated (the clock was not"
            " synchronised): none of it is deleted by age before what was stamped now would be",
            hold_from=start,
            hold_until=entry.now,
        )
        return replace(record, untrusted_from=None, hold_from=start, hold_until=entry.now)

    async def _move(self, delta: float, jump: float) -> None:
        """Record a step of the wall clock (`jump`) and move the timeline and every stamp since its last move by
        `delta` (not the same when a stale clock was counted on from the latest stored stamp, or is not
        synchronised and must not take the timeline back)."""
        since, wall = self._since, self.timeline.wall()

        async def op(entry: EventLog) -> ClockRecord:
            moved = await redate(entry.conn, since, delta) if delta else 0
            entry.now += delta
            await entry(
                "clock_stepped",
                None,
                _step_words(jump, delta, wall, moved, since, self.synchronised),
                step_s=round(jump, 3),
                moved_s=round(delta, 3),
                clock=wall,
                moved=moved,
            )
            return await read_clock(entry.conn)

        def then(record: ClockRecord) -> None:
            # After the commit, before any query: the timeline and what is held in memory move with the rows.
            self.timeline.offset += delta
            if delta:
                for holder in self.holders:
                    holder.shift(delta)
                self._since = self.timeline()
            self._record = record
            self.last_step = ClockStep(self.timeline(), jump if abs(jump) > STEP_S else delta)

        await self._journal.write_alone(op, then)
        log.warning("the clock stepped by %s; the service's time moved by %s", _span(jump), _span(delta))


def _step_words(jump: float, delta: float, wall: float, moved: int, since: float, synchronised: bool | None) -> str:
    """What happened, for the event log."""
    said = f"(it says {_moment(wall)})"
    if abs(jump) > STEP_S:
        head = f"the clock stepped {'forward' if jump > 0 else 'back'} by {_span(jump)} {said}"
    else:
        head = f"the clock is synchronised {said}"
    if delta:
        way = "forward" if delta > 0 else "back"
        return (
            f"{head}: the service's time moved {way} by {_span(delta)},"
            f" and {moved} stored time(s) since {_moment(since)} with it"
        )
    if synchronised is False:
        return f"{head}: it is not synchronised, so the service's time does not go back; it counts on"
    return f"{head}: the service's time was already right (it counted on from the latest stored time)"


def _moment(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def _span(seconds: float) -> str:
    """'182 d 3 h', '3 h 0 min', '2 min 5 s', '45 s'."""
    days, rest = divmod(round(abs(seconds)), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"
