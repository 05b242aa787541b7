"""Validate a firmware app image with esptool's own parser; refuse a bad one saying exactly why."""

from __future__ import annotations

import binascii
import functools
import hashlib
import io
import struct
from functools import reduce
from operator import xor
from typing import Any

from services.core.chips import CHIPS
from services.core.errors import InvalidImage
from services.core.models import ImageInfo

DEFAULT_MAX_SIZE = 16 * 1024 * 1024
ESP_IMAGE_MAGIC = 0xE9
APP_DESC_MAGIC = 0xABCD5432

_MAX_SEGMENTS = 16  # what the ROM accepts, and what esptool's verify() enforces
_ESP8266_HEADER = 8
_ESP32_HEADER = 24  # the common 8 bytes plus the 16-byte extended header
_DIGEST_LEN = 32
_EXTENDED_HEADER = struct.Struct("<BBBBHBHH4sB")  # wp_pin, 3 drive bytes, chip_id, revisions, reserved, hash_appended
# esp_app_desc_t up to idf_ver: magic, secure_version, reserv1[2], version, project_name, time, date, idf_ver.
_APP_DESC = struct.Struct("<II8s32s32s16s16s32s")
# An Arduino ESP8266 .bin is eboot padded to 4 KiB with 0xAA, then the sketch (tools/elf2bin.py).
_ARDUINO_APP_AT = 0x1000
_ARDUINO_PAD = 0xAA
_REVERSED_BITS = bytes(int(f"{value:08b}"[::-1], 2) for value in range(256))
# Every address an ESP8266 segment can load to: DPORT registers, RAM, IRAM, the 1 MiB flash-mapped window.
_ESP8266_ADDRESSES = range(0x3FF00000, 0x40300000)


def inspect_image(data: bytes, max_size: int = DEFAULT_MAX_SIZE) -> ImageInfo:
    """Return what an OTA app image is (chip, digests, app description), or raise InvalidImage saying why."""
    data = bytes(data)
    if not data:
        raise InvalidImage("not an ESP firmware image: the file is empty")
    if len(data) > max_size:
        raise InvalidImage(f"the file has {len(data)} bytes, more than the {max_size} allowed")
    _check_magic(data)
    if len(data) < _ESP32_HEADER:
        raise InvalidImage(f"truncated: the file ends at {len(data)}, inside the image header")
    chip = _chip_of(data)
    desc: dict[str, str | None] = {}
    if chip == "esp8266":
        _check_esp8266(data)
    else:
        desc = _check_esp32(chip, data)
    return ImageInfo(
        chip=chip,
        size=len(data),
        md5=hashlib.md5(data).hexdigest(),
        sha256=hashlib.sha256(data).hexdigest(),
        project=desc.get("project"),
        version=desc.get("version"),
        idf_version=desc.get("idf_version"),
        build_date=desc.get("build_date"),
        app_sha256=desc.get("app_sha256"),
    )


def _check_magic(data: bytes) -> None:
    first = data[0]
    if first == ESP_IMAGE_MAGIC:
        return
    hint = _what_it_looks_like(data)
    raise InvalidImage(
        f"not an ESP firmware image: first byte is 0x{first:02X}, expected 0x{ESP_IMAGE_MAGIC:02X}"
        + (f" ({hint})" if hint else "")
    )


def _what_it_looks_like(data: bytes) -> str | None:
    head = data[:512]
    text = head.lstrip()
    if text[:1] in (b"{", b"["):
        return "it is JSON"
    if text[:1] == b"<":
        return "it is an HTML or XML page, perhaps an error page saved in place of the download"
    if head.startswith(b"\x7fELF"):
        return "it is an ELF file: import the .bin the build makes from it"
    if head.startswith(b"\x1f\x8b"):
        return "it is gzip-compressed: import the uncompressed .bin"
    if head.startswith(b"PK\x03\x04"):
        return "it is a zip archive: import the .bin inside it"
    if head.startswith(b"\xaa\x50"):
        return "it is a partition table"
    if head[0] == 0xEA:
        return "it is an ESP8266 SDK 'v2' image, which Arduino OTA does not accept"
    if head[0] == 0xFF:
        return "it starts with erased flash: a merged flash image or a flash dump, not an app"
    if all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        return "it is text"
    return None


def _chip_of(data: bytes) -> str:
    """Name the chip: ESP32-family images carry a chip id in an extended header, ESP8266 ones do not."""
    # On an ESP8266 the bytes after the common header are the first segment's load address; on the ESP32
    # family they are the wp_pin and drive-strength fields, which can never spell an ESP8266 address.
    (load_address,) = struct.unpack_from("<I", data, _ESP8266_HEADER)
    if load_address in _ESP8266_ADDRESSES:
        return "esp8266"
    _, _, _, _, chip_id, _, _, _, reserved, hash_appended = _EXTENDED_HEADER.unpack_from(data, _ESP8266_HEADER)
    if reserved != bytes(4) or hash_appended not in (0, 1):
        raise InvalidImage(
            "not an ESP firmware image: after the 0xE9 magic comes neither an ESP8266 segment"
            f" (load address 0x{load_address:08X}) nor an ESP32 extended header"
        )
    name = _chip_by_image_id().get(chip_id)
    if name is None:
        raise InvalidImage(f"unknown chip id {chip_id} in the image header")
    if name not in CHIPS:
        raise InvalidImage(f"the image is for an {name} (chip id {chip_id}), a chip this appliance does not serve")
    return name


def _check_esp8266(data: bytes) -> None:
    end = _image_end(data, 0, _ESP8266_HEADER, "")
    _check_checksum(_load("esp8266", data), "")
    app_at = -(-end // _ARDUINO_APP_AT) * _ARDUINO_APP_AT
    if len(data) > app_at and data[app_at] == ESP_IMAGE_MAGIC:
        _check_arduino_app(data, app_at)
        return
    # Bytes after the image that are elf2bin's padding mean eboot came without the sketch that follows it.
    padding = data[end : min(len(data), app_at - 8)]
    if padding and padding.count(_ARDUINO_PAD) == len(padding):
        if len(data) <= app_at:
            raise InvalidImage(
                f"truncated: an Arduino build has its app at offset {app_at} after the eboot loader,"
                f" the file ends at {len(data)}"
            )
        raise InvalidImage(f"no app after the eboot loader: offset {app_at} holds 0x{data[app_at]:02X}, expected 0xE9")


def _check_arduino_app(data: bytes, app_at: int) -> None:
    label = f" of the app at offset {app_at}"
    app_end = _image_end(data, app_at, _ESP8266_HEADER, label)
    app = _load("esp8266", data[app_at:])
    stored, computed = app.checksum, app.calculate_checksum()
    # elf2bin computes the XOR checksum over zeros in the sketch's first 8 bytes, then writes the build's
    # length and CRC-32 there (older cores put them in the padding before the sketch instead).
    crc_block = app_at + _ESP8266_HEADER + 8
    if _is_arduino_crc_block(data, crc_block, app_end):
        as_built = computed ^ reduce(xor, data[crc_block : crc_block + 8], 0)
        computed = computed if stored == computed else as_built
    if stored != computed:
        raise InvalidImage(f"checksum mismatch{label}: stored 0x{stored:02X}, computed 0x{computed:02X}")
    for offset in (crc_block, app_at - 8):
        if _is_arduino_crc_block(data, offset, app_end):
            _check_arduino_crc(data, offset, app_end)


def _is_arduino_crc_block(data: bytes, offset: int, app_end: int) -> bool:
    # Only elf2bin's block records exactly where the build ends; anything after that (a signature) is extra.
    return int.from_bytes(data[offset : offset + 4], "little") == app_end


def _check_arduino_crc(data: bytes, offset: int, app_end: int) -> None:
    (stored,) = struct.unpack_from("<I", data, offset + 4)
    computed = _crc32_msb_first(data[:offset] + bytes(8) + data[offset + 8 : app_end])
    if stored != computed:
        raise InvalidImage(f"Arduino CRC-32 mismatch: stored 0x{stored:08X}, computed 0x{computed:08X}")


def _crc32_msb_first(data: bytes) -> int:
    """CRC-32 as eboot computes it: polynomial 0x04C11DB7 fed MSB first, start 0xFFFFFFFF, no final XOR."""
    # zlib's CRC-32 is the bit-reflected twin of this one: reflect every input byte and the result (fast in C).
    reflected = binascii.crc32(data.translate(_REVERSED_BITS))
    return int(f"{reflected:032b}"[::-1], 2) ^ 0xFFFFFFFF


def _check_esp32(chip: str, data: bytes) -> dict[str, str | None]:
    end = _image_end(data, 0, _ESP32_HEADER, "")
    image = _load(chip, data)
    _check_checksum(image, "")
    if image.append_digest:
        _check_digest(data, end)
    flash = [segment for segment in image.segments if image.is_flash_addr(segment.addr)]
    # What a running ESP32 reports as its sketch SHA-256: the digest of the image up to its appended hash.
    app_sha256 = hashlib.sha256(data[:end]).hexdigest()
    if not flash:
        after = len(data) - end - (_DIGEST_LEN if image.append_digest else 0)
        merged = f"; {after} more bytes follow it: a merged flash image? Import the app's own .bin" if after else ""
        raise InvalidImage(
            f"this is a bootloader, not an app: all its {len(image.segments)} segments load into RAM{merged}"
        )
    # ESP-IDF (so Arduino-ESP32 too) links esp_app_desc_t first in the first flash segment: file offset 0x20.
    return {**_app_description(chip, flash[0].data), "app_sha256": app_sha256}


def _app_description(chip: str, segment: bytes) -> dict[str, str | None]:
    magic = int.from_bytes(segment[:4], "little") if len(segment) >= 4 else None
    if magic != APP_DESC_MAGIC or len(segment) < _APP_DESC.size:
        found = "nothing" if magic is None else f"0x{magic:08X}"
        raise InvalidImage(
            f"no app description in this {chip} image: its first flash segment starts with {found},"
            f" expected the magic 0x{APP_DESC_MAGIC:08X} of an ESP-IDF or Arduino app"
        )
    _, _, _, version, project, time, date, idf = _APP_DESC.unpack_from(segment)
    built = " ".join(part for part in (_text(date), _text(time)) if part)
    return {
        "project": _text(project),
        "version": _text(version),
        "idf_version": _text(idf),
        "build_date": built or None,
    }


def _image_end(data: bytes, start: int, header_len: int, label: str) -> int:
    """Return the offset just past the checksum byte, walking the segment headers; refuse a cut-short file."""
    position = start + header_len
    if position > len(data):
        raise InvalidImage(f"truncated: the file ends at {len(data)}, inside the image header{label}")
    count = data[start + 1]
    if not 1 <= count <= _MAX_SEGMENTS:
        raise InvalidImage(f"not an app image: the header{label} claims {count} segments, 1 to {_MAX_SEGMENTS} can be")
    for number in range(1, count + 1):
        if position + 8 > len(data):
            raise InvalidImage(
                f"truncated: the header of segment {number}{label} belongs at offset {position},"
                f" the file ends at {len(data)}"
            )
        (size,) = struct.unpack_from("<I", data, position + 4)
        if position + 8 + size > len(data):
            raise InvalidImage(
                f"truncated: segment {number}{label} claims {size} bytes at offset {position + 8},"
                f" the file ends at {len(data)}"
            )
        position += 8 + size
    checksum_at = position + 15 - position % 16  # zero padding, then the checksum as the 16th byte
    if checksum_at >= len(data):
        raise InvalidImage(
            f"truncated: the checksum byte{label} belongs at offset {checksum_at}, the file ends at {len(data)}"
        )
    return checksum_at + 1


def _load(chip: str, data: bytes) -> Any:
    """Parse with esptool, naming the chip; the layout was walked already, so a failure here means corruption."""
    from esptool.bin_image import LoadFirmwareImage

    try:
        if chip == "esp8266":
            return _quiet_esp8266_image()(data)
        return LoadFirmwareImage(chip, data)
    except Exception as exc:  # esptool raises FatalError, struct.error, RuntimeError... on corrupt input
        raise InvalidImage(f"esptool cannot parse it as an {chip} image: {exc}") from None


def _check_checksum(image: Any, label: str) -> None:
    stored, computed = image.checksum, image.calculate_checksum()
    if stored != computed:
        raise InvalidImage(f"checksum mismatch{label}: stored 0x{stored:02X}, computed 0x{computed:02X}")


def _check_digest(data: bytes, end: int) -> None:
    stored = data[end : end + _DIGEST_LEN]
    if len(stored) < _DIGEST_LEN:
        raise InvalidImage(
            f"truncated: the SHA-256 digest belongs at offset {end} ({_DIGEST_LEN} bytes), the file ends at {len(data)}"
        )
    computed = hashlib.sha256(data[:end]).digest()
    if stored != computed:
        raise InvalidImage(f"SHA-256 digest mismatch: stored {stored.hex()[:16]}…, computed {computed.hex()[:16]}…")


def _text(raw: bytes) -> str | None:
    value = raw.split(b"\0", 1)[0].decode("utf-8", "replace")
    value = "".join(ch for ch in value if ch.isprintable()).strip()
    return value or None


def __getattr__(name: str) -> Any:
    if name == "CHIP_BY_IMAGE_ID":
        return _chip_by_image_id()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def _chip_by_image_id() -> dict[int, str]:
    """esptool's own table of extended-header chip ids (esp32=0, esp32c3=5, esp32s3=9, ...), so the two never
    disagree; esptool is imported on the first image, not with the service (15 MiB that a Pi Zero keeps)."""
    from esptool.targets import CHIP_DEFS

    return {rom.IMAGE_CHIP_ID: name for name, rom in CHIP_DEFS.items() if rom.IMAGE_CHIP_ID is not None}


@functools.cache
def _quiet_esp8266_image() -> Any:
    from esptool.bin_image import ESP8266ROMFirmwareImage

    class _QuietESP8266Image(ESP8266ROMFirmwareImage):  # type: ignore[misc]  # esptool ships no type hints
        """esptool's ESP8266 image parser, minus its "suspicious segment" warning."""

        def __init__(self, data: bytes) -> None:
            super().__init__(io.BytesIO(data))

        def warn_if_unusual_segment(self, offset: int, size: int, is_irom_segment: bool) -> None:
            # An Arduino sketch's irom0 segment always trips it, and esptool's logger is process-wide: silencing
            # it by swapping the logger would also swallow a flash job's progress in another thread.
            return None

    return _QuietESP8266Image
