"""A wall clock to move under a running `serve`: libfaketime (Debian's `faketime`), the monotonic clock untouched.

libfaketime is preloaded into the service's process only; it reads the offset from a file at every call
(FAKETIME_NO_CACHE), so writing the file steps the clock the way NTP does: at once, by any amount, while
CLOCK_MONOTONIC carries on (FAKETIME_DONT_FAKE_MONOTONIC). One quirk of the 0.9.10 that Debian 12 ships:
with the monotonic clock left alone, Python's time.sleep() fails with EINVAL (libfaketime issue 426); the
service never calls it.
"""

from __future__ import annotations

import glob
from pathlib import Path

_LIBRARY = "/usr/lib/*/faketime/libfaketime.so.1"


def library() -> str | None:
    """The preload library, if the faketime package is installed."""
    found = sorted(glob.glob(_LIBRARY))
    return found[0] if found else None


class WallClock:
    """The offset of a faked wall clock, in a file the service's libfaketime reads."""

    def __init__(self, path: Path, offset: str = "+0") -> None:
        self.path = path
        self.set(offset)

    def set(self, offset: str) -> None:
        """Step the clock: '+0' is the real time, '-182d' half a year back, '+3h' three hours ahead, '-N' seconds."""
        temporary = self.path.with_suffix(".new")
        temporary.write_text(offset + "\n")
        temporary.replace(self.path)  # whole: libfaketime must never read half a line

    def env(self) -> dict[str, str]:
        """The environment that puts a process on this clock."""
        preload = library()
        assert preload is not None, "the faketime package is not installed"
        return {
            "LD_PRELOAD": preload,
            "FAKETIME_TIMESTAMP_FILE": str(self.path),
            "FAKETIME_NO_CACHE": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        }
