"""How many events stations may report: each station its own allowance, and all token-less callers one between them.

Events are rows on the SD card and lines in the admin's log; a station reports a few per update. Anyone on
the LAN can report for a pending station (it holds no token yet), so what comes without a token shares one
small allowance, whatever MACs it names; a station proven by its token has its own. Each refills steadily
(a token bucket); a report beyond it is refused whole (429) and nothing of it is stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from services.core.errors import TooManyRequests
from services.core.logsummary import LogSummary

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Allowance:
    """A bucket of `burst` events, refilled by one every `every_s` seconds."""

    burst: int
    every_s: float


# A station: one full report (32 events) at once, then one event every 10 s (8,640 a day at most).
PER_STATION = Allowance(burst=32, every_s=10.0)
# Everything without a token together: one report at once, then one event every 5 s, whatever the MAC.
WITHOUT_TOKEN = Allowance(burst=32, every_s=5.0)


class _Bucket:
    __slots__ = ("at", "level")

    def __init__(self, level: float, at: float) -> None:
        self.level, self.at = level, at


class EventAllowances:
    """The buckets, kept in memory (a restart refills them: no harm, it is rare)."""

    def __init__(
        self,
        per_station: Allowance = PER_STATION,
        without_token: Allowance = WITHOUT_TOKEN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_station, self._without_token = per_station, without_token
        self._clock = clock
        self._stations: dict[str, _Bucket] = {}
        self._tokenless = _Bucket(float(without_token.burst), clock())
        self._refusals = LogSummary(log, logging.INFO)

    def take(self, mac: str, count: int, *, authenticated: bool) -> None:
        """Take `count` events for `mac` (from its shared allowance too without a token); refuse if either is short."""
        now = self._clock()
        station = self._stations.get(mac)
        if station is None:
            station = self._stations[mac] = _Bucket(float(self._per_station.burst), now)
        buckets = [(station, self._per_station)]
        if not authenticated:
            buckets.append((self._tokenless, self._without_token))
        wait = 0.0
        for bucket, allowance in buckets:
            bucket.level = min(allowance.burst, bucket.level + (now - bucket.at) / allowance.every_s)
            bucket.at = now
            wait = max(wait, (count - bucket.level) * allowance.every_s)
        if wait > 0:
            whose = f"{mac}'s" if authenticated else "stations without a token"
            self._refusals.note("event reports refused: %s allowance is spent", whose)
            raise TooManyRequests(
                f"too many events: {whose} allowance is spent; try again in {wait:.0f} s", retry_after_s=wait
            )
        for bucket, _ in buckets:
            bucket.level -= count

    def forget(self, mac: str) -> None:
        """Drop the allowance of a station that was deleted."""
        self._stations.pop(mac, None)
