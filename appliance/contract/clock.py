"""The service's clock as `status` tells it, in the words the CLI, the TUI and `doctor` all use."""

from __future__ import annotations

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
