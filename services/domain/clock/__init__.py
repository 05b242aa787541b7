"""The service's own clock: measured on the monotonic clock, told in wall-clock time, moved only on purpose."""

from __future__ import annotations

from services.domain.clock.timeline import STEP_S, Timeline, aim
from services.domain.clock.trust import DAY, ClockTrust

__all__ = ["DAY", "STEP_S", "ClockTrust", "Timeline", "aim"]
