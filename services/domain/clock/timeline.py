"""The service's clock: the wall clock's time, carried on by the monotonic clock.

A Pi without a battery clock boots with a stale time and is stepped to the right one by NTP later, months
forward or hours back. Reading the wall clock for every "now" would make each step look like months of
silence (or none) to everything that measures a wait. The timeline reads only the monotonic clock: it
moves when the timekeeper moves it, at the same moment as every stamp it stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]

# A jump of the wall clock larger than this is a step; smaller ones (NTP slewing, a nudge) are followed quietly.
STEP_S = 2.0


class Timeline:
    """Call it for the service's time; `offset` is what it adds to the monotonic clock."""

    def __init__(self, wall: Clock = time.time, monotonic: Clock = time.monotonic) -> None:
        self._wall = wall
        self._monotonic = monotonic
        self._started = monotonic()
        self.offset = wall() - self._started

    def __call__(self) -> float:
        """The service's time now (never the wall clock's own reading)."""
        return self._monotonic() + self.offset

    @property
    def started_at(self) -> float:
        """When the service started, on the timeline as it stands (it moves with it)."""
        return self._started + self.offset

    def uptime_s(self) -> float:
        """Seconds since the service started, on the monotonic clock."""
        return self._monotonic() - self._started

    def wall_offset(self) -> float:
        """How far the wall clock is ahead of the monotonic clock right now."""
        return self._wall() - self._monotonic()

    def wall(self) -> float:
        """The wall clock's own reading (to tell the admin what it says)."""
        return self._wall()


def aim(wall_offset: float, offset: float, synchronised: bool | None) -> float:
    """The offset the timeline should have: the wall clock's, except that a clock known not to be synchronised
    never takes the timeline back (a stale clock must not date anything before what was already stored)."""
    if synchronised is False:
        return max(wall_offset, offset)
    return wall_offset
