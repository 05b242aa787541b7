"""Who a simulated station is and the board it runs on, derived from (seed, index) alone."""

from __future__ import annotations

import random
from dataclasses import dataclass

from services.simulator.otaclient import FLASH_DIO, FLASH_DOUT, FLASH_QIO, RunningSketch

SIM_CHIPS = ("esp8266", "esp32", "esp32c3")
SIM_PROJECT = "sim-sensor"
SIM_VERSION = "1.0.0"

# Partition layouts of stock 4 MB boards: ESP8266 "4MB (FS:2MB OTA:~1019KB)"; ESP32 default.csv, 0x140000 app slots.
_ESP8266_SKETCH_AREA = 0x200000 - 0x1000
_ESP32_APP_SLOT = 0x140000
_FREE_HEAP = {"esp8266": (18_000, 42_000), "esp32": (140_000, 220_000), "esp32c3": (170_000, 250_000)}


@dataclass(frozen=True, slots=True)
class StationIdentity:
    """A simulated station's identity; the same (seed, index) always gives the same one."""

    index: int
    mac: str
    chip: str
    name: str
    ip: str
    bssid: str
    flash_mode: int = FLASH_QIO  # ESP.getFlashChipMode(): cheap ESP8266 modules run DIO or DOUT
    # The station key its firmware made at first boot (16 bytes of esp_fill_random(), as hex) and keeps in flash.
    key: str = ""

    @classmethod
    def derive(cls, seed: int, index: int, chip: str | None = None) -> StationIdentity:
        """The identity of station `index` of the fleet seeded `seed` (chips in turn unless `chip` is given)."""
        site = random.Random(f"stationmaster-sim/{seed}")
        prefix = site.randbytes(2).hex(":").upper()
        # First octet 0x02: locally administered, so never a real vendor's; the index keeps a fleet's MACs unique.
        mac = f"02:{prefix}:{index >> 16 & 0xFF:02X}:{index >> 8 & 0xFF:02X}:{index & 0xFF:02X}"
        bssid = "0A:" + site.randbytes(5).hex(":").upper()  # the site's one access point
        subnet = site.randrange(256)
        return cls(
            index=index,
            mac=mac,
            chip=chip or SIM_CHIPS[index % len(SIM_CHIPS)],
            name=f"sim-{index + 1:03d}",
            ip=f"10.{subnet}.{index // 250}.{index % 250 + 2}",
            bssid=bssid,
            flash_mode=(FLASH_QIO, FLASH_DIO, FLASH_DOUT)[index // len(SIM_CHIPS) % 3],
            key=random.Random(f"stationmaster-sim/{seed}/{index}/key").randbytes(16).hex(),
        )


def factory_sketch(identity: StationIdentity, rng: random.Random) -> RunningSketch:
    """The firmware a station was shipped with, as its stock client describes it."""
    esp8266 = identity.chip == "esp8266"
    size = rng.randrange(300_000, 420_000) if esp8266 else rng.randrange(800_000, 1_000_000)
    return RunningSketch(
        chip=identity.chip,
        sta_mac=identity.mac,
        size=size,
        md5=rng.randbytes(16).hex(),
        free_space=free_sketch_space(identity.chip, size),
        sha256=None if esp8266 else rng.randbytes(32).hex(),
    )


def free_sketch_space(chip: str, sketch_size: int) -> int:
    """ESP.getFreeSketchSpace() with a sketch of `sketch_size` bytes running."""
    if chip == "esp8266":
        # The area up to the filesystem, less the running sketch in whole 4 KiB sectors.
        return _ESP8266_SKETCH_AREA - (sketch_size + 0xFFF) // 0x1000 * 0x1000
    return _ESP32_APP_SLOT  # the next OTA slot, whatever runs now


def free_heap(chip: str, rng: random.Random) -> int:
    """A plausible ESP.getFreeHeap() reading for a sketch running on `chip`."""
    low, high = _FREE_HEAP.get(chip, _FREE_HEAP["esp32"])
    return rng.randrange(low, high)
