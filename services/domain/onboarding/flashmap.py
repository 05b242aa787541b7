"""Where the parts of a bench bundle go in a station's flash, and which chips can take one."""

from __future__ import annotations

from dataclasses import dataclass

from services.core.errors import InvalidInput

SECTOR = 0x1000
# The NVS partition of arduino-esp32's default partition tables (default.csv, min_spiffs.csv, huge_app.csv…)
# and of ESP-IDF's: it always starts right after the partition table at 0x8000.
DEFAULT_NVS_OFFSET = 0x9000
DEFAULT_NVS_SIZE = 0x5000
DEFAULT_APP_OFFSET = 0x10000
# nvs_flash needs two pages for itself besides the one it keeps free: three sectors at the least.
MIN_NVS_SIZE = 0x3000
MAX_NVS_SIZE = 0x100000

# ESP8266 Arduino firmware has no NVS (it keeps settings in EEPROM emulation or LittleFS); the ESP32-H2
# has no Wi-Fi to join. Neither can be given a bench bundle.
NO_BUNDLE = {
    "esp8266": "ESP8266 firmware has no NVS partition to read a bundle from; onboard it by claim or on-site USB",
    "esp32h2": "the ESP32-H2 has no Wi-Fi radio; a bundle of site networks is of no use to it",
}


@dataclass(frozen=True, slots=True)
class FlashLayout:
    """Offsets in flash: the NVS partition (the station's settings) and the app slot a merged image fills."""

    nvs_offset: int = DEFAULT_NVS_OFFSET
    nvs_size: int = DEFAULT_NVS_SIZE
    app_offset: int = DEFAULT_APP_OFFSET

    def __post_init__(self) -> None:
        """Refuse a layout no partition table could have."""
        for name, value in (("nvs_offset", self.nvs_offset), ("nvs_size", self.nvs_size)):
            if value % SECTOR:
                raise InvalidInput(f"{name} must be a multiple of 4 KiB (0x1000), got {value:#x}")
        if not MIN_NVS_SIZE <= self.nvs_size <= MAX_NVS_SIZE:
            raise InvalidInput(f"nvs_size must be from {MIN_NVS_SIZE:#x} to {MAX_NVS_SIZE:#x}, got {self.nvs_size:#x}")
        if self.nvs_offset < 0x9000:
            raise InvalidInput(f"nvs_offset {self.nvs_offset:#x} would overwrite the bootloader or partition table")
        if self.app_offset % 0x10000:
            raise InvalidInput(f"app_offset must be a multiple of 64 KiB (0x10000), got {self.app_offset:#x}")
        if self.nvs_offset + self.nvs_size > self.app_offset:
            raise InvalidInput(
                f"the NVS partition ({self.nvs_offset:#x}+{self.nvs_size:#x}) runs into the app at {self.app_offset:#x}"
            )


def check_bundle_chip(chip: str) -> None:
    """Raise InvalidInput when `chip` (canonical name) cannot be onboarded with an NVS bundle."""
    if chip in NO_BUNDLE:
        raise InvalidInput(f"no bench bundle for an {chip}: {NO_BUNDLE[chip]}")
