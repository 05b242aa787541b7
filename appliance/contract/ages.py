"""How long ago something happened, as both the CLI and the TUI write it."""

from __future__ import annotations

import time


def age(at: float | None, now: float | None = None) -> str:
    """'12 s', '5 min', '3 h', '2 d' since `at`, or '-' when it never happened."""
    if at is None:
        return "-"
    seconds = max(0.0, (time.time() if now is None else now) - at)
    for limit, unit, size in ((60, "s", 1), (3600, "min", 60), (86400, "h", 3600)):
        if seconds < limit:
            return f"{int(seconds // size)} {unit}"
    return f"{int(seconds // 86400)} d"


def ago(at: float | None, now: float | None = None) -> str:
    """'12 s ago', '5 min ago', … or 'never'."""
    return "never" if at is None else f"{age(at, now)} ago"
