"""The chip families a station can be, by the names esptool and the contract use."""

from __future__ import annotations

from appliance.contract.chips import CHIPS
from services.core.errors import InvalidInput

__all__ = ["CHIPS", "parse_chip"]


def parse_chip(value: object) -> str:
    """Return the canonical chip name for `value` ("ESP32-C3" → "esp32c3"), or raise InvalidInput."""
    if not isinstance(value, str):
        raise InvalidInput("chip must be a string")
    name = value.strip().lower().replace("-", "").replace("_", "")
    if name not in CHIPS:
        raise InvalidInput(f"unknown chip {value[:40]!r}; expected one of {', '.join(CHIPS)}")
    return name
