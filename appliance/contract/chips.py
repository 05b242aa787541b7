"""The chips a station can be, by the names esptool and the contract use (shared by the service and its clients)."""

from __future__ import annotations

from typing import Final

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
