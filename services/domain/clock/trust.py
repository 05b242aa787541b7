"""How far stored stamps can be trusted for deleting by age."""

from __future__ import annotations

import math
from dataclasses import dataclass

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class ClockTrust:
    """Whether the clock is synchronised, and the span of stamps that may be misdated (held from deletion)."""

    synchronised: bool | None = None  # None: nothing tells (no systemd-timesyncd, timedatectl not answering)
    hold_from: float | None = None
    hold_until: float | None = None

    def kept_days(self, now: float, days: float) -> float:
        """How many days back from `now` history must be kept so that nothing goes by a stamp it cannot trust.

        `days` itself while the clock is synchronised; forever while it is not. Rows stamped in the held span
        stay until rows stamped at its end are `days` old: only then is each of them sure to be.
        """
        if self.synchronised is False:
            return math.inf
        if self.hold_from is None or self.hold_until is None or now - days * DAY >= self.hold_until:
            return days
        return max(days, (now - self.hold_from) / DAY)
