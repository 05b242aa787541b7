"""Real app images for simulated firmware, built with esptool's own image classes."""

from __future__ import annotations

import random
import struct

# Flash-mapped read-only data (where ESP-IDF puts the app description) and IRAM, per chip.
_LAYOUT = {
    "esp32": ("ESP32FirmwareImage", 0x3F400020, 0x40080000),
    "esp32s2": ("ESP32S2FirmwareImage", 0x3F000020, 0x40020000),
    "esp32s3": ("ESP32S3FirmwareImage", 0x3C000020, 0x40370000),
    "esp32c2": ("ESP32C2FirmwareImage", 0x3C000020, 0x40380000),
    "esp32c3": ("ESP32C3FirmwareImage", 0x3C000020, 0x40380000),
    "esp32c6": ("ESP32C6FirmwareImage", 0x42800020, 0x40800000),
    "esp32h2": ("ESP32H2FirmwareImage", 0x42800020, 0x40800000),
}
_APP_DESC = struct.Struct("<II8s32s32s16s16s32s32sHHB3s72s")
_SHF_ALLOC = 0x2  # the ELF flag esptool expects on loadable sections


def build_app_image(
    chip: str, project: str = "sim-sensor", version: str = "1.0.0", payload_size: int = 4096, seed: int = 0
) -> bytes:
    """Return the bytes of a valid app image for `chip` (ESP32 family: with app description and digest)."""
    from esptool import bin_image

    rng = random.Random(f"{chip}/{project}/{version}/{seed}")
    payload = rng.randbytes(payload_size - payload_size % 4)
    if chip == "esp8266":
        esp8266 = bin_image.ESP8266ROMFirmwareImage()
        esp8266.entrypoint = 0x40100000
        # An ESP8266 image has no app description: its version lives only in the firmware's own code.
        esp8266.segments = [
            bin_image.ELFSection(b".text", 0x40100000, payload, _SHF_ALLOC),
            bin_image.ELFSection(b".data", 0x3FFE8000, b"\0" * 16, _SHF_ALLOC),
        ]
        _, body = esp8266.save(None)
        return bytes(body)
    if chip not in _LAYOUT:
        raise ValueError(f"no simulated build layout for {chip}")
    class_name, drom, iram = _LAYOUT[chip]
    image = getattr(bin_image, class_name)()
    image.chip_id = image.ROM_LOADER.IMAGE_CHIP_ID
    image.entrypoint = iram
    desc = _APP_DESC.pack(
        0xABCD5432,
        0,
        b"",
        version.encode()[:31],
        project.encode()[:31],
        b"02:00:00",
        b"Nov 24 2026",
        b"v5.3-sim",
        rng.randbytes(32),
        0,
        0,
        0,
        b"",
        b"",
    )
    image.segments = [
        bin_image.ELFSection(b".flash.rodata", drom, desc + payload, _SHF_ALLOC),
        bin_image.ELFSection(b".iram0.text", iram, b"\0" * 64, _SHF_ALLOC),
    ]
    return bytes(image.save(None))
