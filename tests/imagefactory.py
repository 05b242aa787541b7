"""Real image bytes for tests, built with esptool's own image classes, and the ways a download gets broken."""

from __future__ import annotations

import hashlib
import io
import random
import struct
from typing import Any

from esptool import bin_image
from esptool.loader import ESPLoader

BUILD_DATE = "Mar 14 2025"
BUILD_TIME = "09:26:53"
IDF_VERSION = "v5.3.2"
ARDUINO_APP_AT = 0x1000  # where elf2bin puts the sketch, after eboot and its 0xAA padding
ARDUINO_CRC_AT = ARDUINO_APP_AT + 16  # the sketch's first 8 bytes: build length, then CRC-32

_SHF_ALLOC = 0x2  # esptool only takes ELF sections flagged as loadable
_APP_DESC = struct.Struct("<II8s32s32s16s16s32s32sHHB3s72s")  # esp_app_desc_t, 256 bytes
_IMAGE_CLASSES: dict[str, Any] = {
    "esp32": bin_image.ESP32FirmwareImage,
    "esp32s2": bin_image.ESP32S2FirmwareImage,
    "esp32s3": bin_image.ESP32S3FirmwareImage,
    "esp32c2": bin_image.ESP32C2FirmwareImage,
    "esp32c3": bin_image.ESP32C3FirmwareImage,
    "esp32c5": bin_image.ESP32C5FirmwareImage,
    "esp32c6": bin_image.ESP32C6FirmwareImage,
    "esp32c61": bin_image.ESP32C61FirmwareImage,
    "esp32h2": bin_image.ESP32H2FirmwareImage,
    "esp32p4": bin_image.ESP32P4FirmwareImage,
}


def build_image(
    chip: str, *, project: str = "demo", version: str = "1.0.0", payload_size: int = 4096, seed: int = 0
) -> bytes:
    """A valid OTA image for `chip`, the same bytes for the same arguments.

    ESP32 family: an app with esp_app_desc_t first in flash and the SHA-256 digest appended, as ESP-IDF and
    Arduino-ESP32 build it. ESP8266: what the Arduino IDE builds, eboot padded to 4 KiB then the sketch, with
    elf2bin's length and CRC-32 written into the sketch after its checksum.
    """
    rng = random.Random(f"{chip}/{project}/{version}/{seed}")
    payload = rng.randbytes(payload_size - payload_size % 4)
    if chip == "esp8266":
        return _esp8266_arduino(payload, rng)
    return _esp32_app(chip, _app_description(project, version, rng) + payload, rng)


def build_esp8266_single_image(*, payload_size: int = 4096, seed: int = 0) -> bytes:
    """A lone ESP8266 image as esptool's elf2image writes it: no eboot in front, no irom0 segment."""
    rng = random.Random(f"esp8266-single/{seed}")
    image = bin_image.ESP8266ROMFirmwareImage()
    image.entrypoint = 0x40100000
    image.segments = [
        bin_image.ELFSection(b".text", 0x40100000, rng.randbytes(payload_size - payload_size % 4), _SHF_ALLOC),
        bin_image.ELFSection(b".data", 0x3FFE8000, rng.randbytes(64), _SHF_ALLOC),
    ]
    _, body = image.save(None)
    return bytes(body)


def build_bootloader(chip: str = "esp32c3", seed: int = 0) -> bytes:
    """A second-stage bootloader image: only RAM segments, no app description."""
    rng = random.Random(f"bootloader/{chip}/{seed}")
    image = _IMAGE_CLASSES[chip]()
    rom = image.ROM_LOADER
    image.entrypoint = _region(rom, "IRAM")
    image.segments = [
        bin_image.ELFSection(b".dram0.bootdesc", _region(rom, "DRAM"), rng.randbytes(80), _SHF_ALLOC),
        bin_image.ELFSection(b".iram_loader.text", _region(rom, "IRAM"), rng.randbytes(2048), _SHF_ALLOC),
    ]
    return bytes(image.save(None))


def build_merged_image(chip: str = "esp32c3") -> bytes:
    """What `esptool merge-bin` makes: bootloader, partition table and app in one flash image."""
    flash = bytearray(b"\xff" * 0x10000)
    offset = _IMAGE_CLASSES[chip].ROM_LOADER.BOOTLOADER_FLASH_OFFSET
    bootloader = build_bootloader(chip)
    flash[offset : offset + len(bootloader)] = bootloader
    table = partition_table()
    flash[0x8000 : 0x8000 + len(table)] = table
    return bytes(flash) + build_image(chip)


def partition_table() -> bytes:
    """A partition table binary (nvs, otadata, two OTA slots), as gen_esp32part.py lays it out."""
    entries = [
        (1, 0x02, 0x9000, 0x5000, b"nvs"),
        (1, 0x00, 0xE000, 0x2000, b"otadata"),
        (0, 0x10, 0x10000, 0x180000, b"app0"),
        (0, 0x11, 0x190000, 0x180000, b"app1"),
    ]
    table = b"".join(struct.pack("<2sBBII16sI", b"\xaa\x50", *entry, 0) for entry in entries)
    return table + b"\xff" * 32


def with_crc_in_padding(data: bytes) -> bytes:
    """An Arduino ESP8266 build as older cores' elf2bin made it: length and CRC-32 in eboot's padding at 4088."""
    changed = bytearray(data)
    length, _ = struct.unpack_from("<II", changed, ARDUINO_CRC_AT)
    changed[ARDUINO_CRC_AT : ARDUINO_CRC_AT + 8] = bytes(8)  # the sketch keeps the zeros it was checksummed over
    changed[ARDUINO_APP_AT - 8 : ARDUINO_APP_AT] = bytes(8)
    struct.pack_into("<II", changed, ARDUINO_APP_AT - 8, length, crc32_msb_first(changed))
    return bytes(changed)


def truncate(data: bytes, keep: int) -> bytes:
    """The first `keep` bytes, as a download cut short leaves them."""
    return data[:keep]


def flip_byte(data: bytes, offset: int) -> bytes:
    """The image with the byte at `offset` inverted (negative counts from the end)."""
    broken = bytearray(data)
    broken[offset] ^= 0xFF
    return bytes(broken)


def checksum_offset(data: bytes) -> int:
    """Where the checksum byte of the app sits (for an Arduino ESP8266 build: the sketch's, not eboot's)."""
    if _is_esp32(data):
        return _image_end(data, 0, 24) - 1
    start = ARDUINO_APP_AT if len(data) > ARDUINO_APP_AT and data[ARDUINO_APP_AT] == 0xE9 else 0
    return _image_end(data, start, 8) - 1


def flip_checksum(data: bytes) -> bytes:
    """The image with its checksum byte inverted."""
    return flip_byte(data, checksum_offset(data))


def flip_digest(data: bytes) -> bytes:
    """An ESP32-family image with the first byte of its appended SHA-256 digest inverted."""
    assert _is_esp32(data), "only ESP32-family images carry a digest"
    return flip_byte(data, checksum_offset(data) + 1)


def with_chip_id(data: bytes, chip_id: int) -> bytes:
    """An ESP32-family image claiming another chip id in its extended header."""
    changed = bytearray(data)
    struct.pack_into("<H", changed, 12, chip_id)
    return bytes(changed)


def patch_and_reseal(data: bytes, offset: int, new: bytes) -> bytes:
    """An ESP32-family image with `new` written at `offset`, its checksum and digest recomputed to match."""
    changed = bytearray(data)
    changed[offset : offset + len(new)] = new
    at = checksum_offset(data)
    checksum = ESPLoader.ESP_CHECKSUM_MAGIC
    position = 24
    for _ in range(changed[1]):
        (size,) = struct.unpack_from("<I", changed, position + 4)
        checksum = ESPLoader.checksum(changed[position + 8 : position + 8 + size], checksum)
        position += 8 + size
    changed[at] = checksum
    changed[at + 1 : at + 33] = hashlib.sha256(changed[: at + 1]).digest()
    return bytes(changed)


def crc32_msb_first(data: bytes | bytearray) -> int:
    """eboot's CRC-32 (polynomial 0x04C11DB7, MSB first, start 0xFFFFFFFF, no final XOR), table-driven."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC_TABLE[(crc >> 24) ^ byte]
    return crc


def _crc_entry(index: int) -> int:
    value = index << 24
    for _ in range(8):
        value = ((value << 1) ^ 0x04C11DB7 if value & 0x80000000 else value << 1) & 0xFFFFFFFF
    return value


_CRC_TABLE = [_crc_entry(index) for index in range(256)]


def _esp8266_arduino(payload: bytes, rng: random.Random) -> bytes:
    eboot = bin_image.ESP8266ROMFirmwareImage()
    eboot.entrypoint = 0x4010F000
    eboot.segments = [
        bin_image.ELFSection(b".text", 0x4010F000, rng.randbytes(1200), _SHF_ALLOC),
        bin_image.ELFSection(b".rodata", 0x3FFFC000, rng.randbytes(96), _SHF_ALLOC),
    ]
    _, boot = eboot.save(None)
    sketch = bin_image.ESP8266ROMFirmwareImage()
    sketch.entrypoint = 0x40100004
    segments = [
        # The linker script reserves the sketch's first 8 bytes, zero, for elf2bin's length and CRC-32.
        bin_image.ELFSection(b".irom0.text", 0x40201010, bytes(8) + payload, _SHF_ALLOC),
        bin_image.ELFSection(b".text", 0x40100000, rng.randbytes(2048), _SHF_ALLOC),
        bin_image.ELFSection(b".data", 0x3FFE8000, rng.randbytes(256), _SHF_ALLOC),
        bin_image.ELFSection(b".rodata", 0x3FFE8100, rng.randbytes(512), _SHF_ALLOC),
    ]
    # save() would split irom0 into a file of its own (the SDK layout); elf2bin keeps it in the image, so
    # write it with the image's own header, segment and checksum writers.
    body = io.BytesIO()
    sketch.write_common_header(body, segments)
    checksum = ESPLoader.ESP_CHECKSUM_MAGIC
    for segment in segments:
        checksum = sketch.save_segment(body, segment, checksum)
    sketch.append_checksum(body, checksum)
    data = bytearray(bytes(boot).ljust(ARDUINO_APP_AT, b"\xaa") + body.getvalue())
    crc = crc32_msb_first(data)  # computed with both words still zero, as elf2bin does
    struct.pack_into("<II", data, ARDUINO_CRC_AT, len(data), crc)
    return bytes(data)


def _esp32_app(chip: str, flash_data: bytes, rng: random.Random) -> bytes:
    image = _IMAGE_CLASSES[chip]()
    rom = image.ROM_LOADER
    drom = rom.DROM_MAP_START + 0x20  # 0x20: after the 24-byte image header and the 8-byte segment header
    irom = rom.IROM_MAP_START + 0x20
    if rom.IROM_MAP_START < rom.DROM_MAP_END and rom.DROM_MAP_START < rom.IROM_MAP_END:
        # One address space for code and data (C5, P4): code goes in the 64 KiB pages after the data.
        irom = drom + len(flash_data) + 0x10000 - (drom + len(flash_data)) % 0x10000 + 0x20
    image.entrypoint = _region(rom, "IRAM")
    image.segments = [
        bin_image.ELFSection(b".flash.appdesc", drom, flash_data, _SHF_ALLOC),
        bin_image.ELFSection(b".flash.text", irom, rng.randbytes(4096), _SHF_ALLOC),
        bin_image.ELFSection(b".iram0.text", _region(rom, "IRAM"), rng.randbytes(1024), _SHF_ALLOC),
        bin_image.ELFSection(b".dram0.data", _region(rom, "DRAM"), rng.randbytes(256), _SHF_ALLOC),
    ]
    return bytes(image.save(None))


def _app_description(project: str, version: str, rng: random.Random) -> bytes:
    return _APP_DESC.pack(
        0xABCD5432,
        0,
        b"",
        version.encode()[:31],
        project.encode()[:31],
        BUILD_TIME.encode(),
        BUILD_DATE.encode(),
        IDF_VERSION.encode(),
        rng.randbytes(32),
        0,
        0,
        0,
        b"",
        b"",
    )


def _region(rom: Any, name: str) -> int:
    return int(next(start for start, _, kind in rom.MEMORY_MAP if kind == name))


def _is_esp32(data: bytes) -> bool:
    return data[8] == 0xEE  # esptool writes wp_pin "disabled" into every ESP32-family header it makes


def _image_end(data: bytes, start: int, header_len: int) -> int:
    position = start + header_len
    for _ in range(data[start + 1]):
        (size,) = struct.unpack_from("<I", data, position + 4)
        position += 8 + size
    return position + 16 - position % 16
