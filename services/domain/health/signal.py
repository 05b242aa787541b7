"""Weak-signal detection with hysteresis: a few readings in a row decide, so one dip raises nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SignalAction = Literal["raise", "clear"]


@dataclass(frozen=True, slots=True)
class SignalPolicy:
    """Raise after `readings` check-ins below `threshold_dbm`; clear after as many at `hysteresis_db` above it."""

    threshold_dbm: int = -80
    readings: int = 3
    hysteresis_db: int = 3


class SignalWatch:
    """Counts each station's consecutive weak and good readings (in memory: they rebuild after a restart)."""

    def __init__(self, policy: SignalPolicy) -> None:
        self.policy = policy
        self._weak: dict[str, int] = {}
        self._good: dict[str, int] = {}

    def observe(self, mac: str, rssi: int | None, alert_open: bool) -> SignalAction | None:
        """Count a reading; say whether the weak-signal alert should now be raised or cleared."""
        if rssi is None:
            return None
        policy = self.policy
        if rssi < policy.threshold_dbm:
            self._weak[mac] = self._weak.get(mac, 0) + 1
            self._good.pop(mac, None)
        elif rssi >= policy.threshold_dbm + policy.hysteresis_db:
            self._good[mac] = self._good.get(mac, 0) + 1
            self._weak.pop(mac, None)
        else:
            # Between the threshold and the hysteresis band: neither a weak nor a good reading.
            self._weak.pop(mac, None)
            self._good.pop(mac, None)
        if not alert_open and self._weak.get(mac, 0) >= policy.readings:
            return "raise"
        if alert_open and self._good.get(mac, 0) >= policy.readings:
            return "clear"
        return None

    def forget(self, mac: str) -> None:
        """Drop the counts of a station that was deleted."""
        self._weak.pop(mac, None)
        self._good.pop(mac, None)
