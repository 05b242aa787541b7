"""The chip families a station can be, by the names esptool and the contract use."""

from __future__ import annotations

from typing import Final

from services.errors import InvalidInput

CHIPS: Final[tuple[str, ...]] = (
    "esp8266",
    "esp32",
    "esp32s2",
    "esp32s3",
    "esp32c2",
    "esp32c3",
    "esp32c5",
    "esp32c6",
    "esp32h2",
    "esp32p4",
)


def parse_chip(value: object) -> str:
    """Return the canonical chip name for `value` ("ESP32-C3" → "esp32c3"), or raise InvalidInput."""
    if not isinstance(value, str):
        raise InvalidInput("chip must be a string")
    name = value.strip().lower().replace("-", "").replace("_", "")
    if name not in CHIPS:
        raise InvalidInput(f"unknown chip {value[:40]!r}; expected one of {', '.join(CHIPS)}")
    return name
