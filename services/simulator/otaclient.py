"""What a simulated station's stock update client sends to `/ota`, header for header."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RunningSketch:
    """What the stock clients report about the firmware a station runs."""

    sta_mac: str
    version: str
    md5: str
    size: int
    free_space: int
    chip_size: int = 4 * 1024 * 1024


def ota_headers(chip: str, sketch: RunningSketch) -> dict[str, str]:
    """The request headers of ESP8266httpUpdate (chip esp8266) or arduino-esp32's HTTPUpdate (others)."""
    ap_mac = f"{int(sketch.sta_mac[:2], 16) | 0x02:02X}{sketch.sta_mac[2:]}"
    if chip == "esp8266":
        prefix, agent, sdk = "x-ESP8266-", "ESP8266-http-Update", "2.2.2-dev(38a443e)"
        extra = {"x-ESP8266-Chip-ID": str(int(sketch.sta_mac.replace(":", "")[-6:], 16))}
    else:
        prefix, agent, sdk = "x-ESP32-", "ESP32-http-Update", "v5.3.2"
        extra = {"Cache-Control": "no-cache"}
    return {
        "User-Agent": agent,
        **extra,
        f"{prefix}STA-MAC": sketch.sta_mac,
        f"{prefix}AP-MAC": ap_mac,
        f"{prefix}free-space": str(sketch.free_space),
        f"{prefix}sketch-size": str(sketch.size),
        f"{prefix}sketch-md5": sketch.md5,
        f"{prefix}chip-size": str(sketch.chip_size),
        f"{prefix}sdk-version": sdk,
        f"{prefix}mode": "sketch",
        f"{prefix}version": sketch.version,
    }
