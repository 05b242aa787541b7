"""Sort keys that order values as a person reads them: names and versions part by part, addresses as numbers."""

from __future__ import annotations

import ipaddress
import re
from typing import Any


def natural(text: str) -> tuple[Any, ...]:
    """Text sorted as a person reads it: "STA2" before "STA10", "1.9.0" before "1.10.0"."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text.lower()) if part
    )


def number(value: Any) -> float:
    """A number to sort by; nothing known sorts last."""
    return float("inf") if value is None else float(value)


def address(value: Any) -> tuple[int, int]:
    """An IP address to sort by, as a number; no address sorts last."""
    try:
        parsed = ipaddress.ip_address(str(value))
    except ValueError:
        return (1, 0)  # no address (or not one): after every address
    return (0, int(parsed))
