"""The service's clock as `status` tells it, in the words the CLI, the TUI and `doctor` all use."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any


def synchronised(status: Mapping[str, Any]) -> bool | None:
    """Whether the service's clock is synchronised: True, False, or None when nothing can tell (or not said)."""
    clock = status.get("clock") or {}
    value = clock.get("synchronised")
    return value if isinstance(value, bool) else None


def clock_words(status: Mapping[str, Any]) -> str:
    """'clock synchronised', 'clock NOT synchronised' or 'clock synchronisation unknown'."""
    state = synchronised(status)
    if state is None:
        return "clock synchronisation unknown"
    return "clock synchronised" if state else "clock NOT synchronised"


class ServiceTime:
    """The service's time as its status last told it, carried on by this machine's monotonic clock.

    Every stamp the service sends was taken on its own clock, which a step of the wall clock moves only
    together with the stamps: ages drawn from this time are right through a step, where this machine's own
    wall clock would jump ahead of (or behind) stamps fetched a moment before.
    """

    def __init__(self) -> None:
        self._told: tuple[float, float] | None = None  # (the service's time, this machine's monotonic clock)

    def tell(self, status: Mapping[str, Any]) -> None:
        """Take the service's time from a status answer (one without it changes nothing)."""
        now = status.get("now")
        if isinstance(now, int | float) and not isinstance(now, bool):
            self._told = (float(now), time.monotonic())

    def __call__(self) -> float:
        """The service's time now (this machine's wall clock until a status has told it)."""
        if self._told is None:
            return time.time()
        at, then = self._told
        return at + time.monotonic() - then
