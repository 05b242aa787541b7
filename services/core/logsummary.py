"""Say a thing that repeats once a minute, with how often it happened since, instead of every time."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class LogSummary:
    """One line now, then at most one a minute saying how many more there were (a flood must not reach the SD card)."""

    INTERVAL_S = 60.0

    def __init__(self, logger: logging.Logger, level: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger
        self._level = level
        self._clock = clock
        self._last: float | None = None
        self._since = 0

    def note(self, message: str, *args: object) -> bool:
        """Count one occurrence; log it (with the count of those held back) if the last line is a minute old."""
        now = self._clock()
        if self._last is not None and now - self._last < self.INTERVAL_S:
            self._since += 1
            return False
        more = f" ({self._since} more since the last report)" if self._since else ""
        self._logger.log(self._level, message + "%s", *args, more)
        self._last, self._since = now, 0
        return True
