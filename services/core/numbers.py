"""Whole numbers written as text by stations and admins: ASCII digits only, never more than a column holds."""

from __future__ import annotations

import re

from services.core.errors import InvalidInput

# int() forgives what no client means ("1_000", " ٣ ", "²" passes isdigit() and then fails int()), and
# 5,000 digits exceed what it will convert at all: accept plain digits, at most what SQLite's INTEGER holds.
_DIGITS = re.compile(r"[0-9]{1,18}")


def parse_whole_number(text: str, what: str, low: int = 0, high: int = 10**18 - 1) -> int:
    """Return `text` as an int from `low` to `high`, or raise InvalidInput naming `what`."""
    stripped = text.strip()
    if _DIGITS.fullmatch(stripped):
        number = int(stripped)
        if low <= number <= high:
            return number
    raise InvalidInput(f"{what} must be a whole number from {low:,} to {high:,}, got {text[:20]!r}")
