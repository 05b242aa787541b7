"""Validate a firmware app image with esptool's own parser; refuse a bad one with the exact reason."""

from __future__ import annotations

import contextlib
import hashlib
import io
import struct
from typing import Any

from services.errors import InvalidImage
from services.models import ImageInfo

ESP_IMAGE_MAGIC = 0xE9
ESP8266_V2_MAGIC = 0xEA
APP_DESC_MAGIC = 0xABCD5432
# esptool's ImageChip ids (the `chip_id` of the extended header) for the chips the contract names.
CHIP_BY_IMAGE_ID = {
    0: "esp32",
    2: "esp32s2",
    5: "esp32c3",
    9: "esp32s3",
    12: "esp32c2",
    13: "esp32c6",
    16: "esp32h2",
    18: "esp32p4",
    23: "esp32c5",
}
_EXTENDED_HEADER = struct.Struct("<BBBBHBHH4sB")  # wp_pin, 3 drive bytes, chip_id, revisions, reserved, hash
_APP_DESC = struct.Struct("<II8s32s32s16s16s32s32s")  # magic .. app_elf_sha256, the fields we read
DEFAULT_MAX_SIZE = 16 * 1024 * 1024


def inspect_image(data: bytes, max_size: int = DEFAULT_MAX_SIZE) -> ImageInfo:
    """Return what the image is (chip, project, version, digests), or raise InvalidImage saying why."""
    if not data:
        raise InvalidImage("the file is empty")
    if len(data) > max_size:
        raise InvalidImage(f"{len(data):,} bytes is larger than the {max_size:,} allowed")
    _check_magic(data)
    if len(data) < 24:
        raise InvalidImage(f"truncated: {len(data)} bytes is shorter than an image header")
    chip = _chip_of(data)
    image = _parse(chip, data)
    _check_checksum(image)
    if chip != "esp8266":
        _check_digest(image)
    desc = _app_description(image) if chip != "esp8266" else None
    if chip != "esp8266" and desc is None:
        raise InvalidImage(
            f"no application description in this {chip} image: it is not an app (a bootloader or a partition table?)"
        )
    return ImageInfo(
        chip=chip,
        size=len(data),
        md5=hashlib.md5(data).hexdigest(),
        sha256=hashlib.sha256(data).hexdigest(),
        project=None if desc is None else desc["project"],
        version=None if desc is None else desc["version"],
        idf_version=None if desc is None else desc["idf_version"],
        build_date=None if desc is None else desc["build_date"],
    )


def _check_magic(data: bytes) -> None:
    first = data[0]
    if first in (ESP_IMAGE_MAGIC, ESP8266_V2_MAGIC):
        return
    hint = ""
    if data.startswith(b"\x7fELF"):
        hint = " (this is an ELF file: import the .bin the build makes from it)"
    elif data.lstrip()[:1] in (b"{", b"[", b"<"):
        hint = " (it looks like text: JSON or an HTML page, perhaps an error page saved by mistake)"
    elif first == 0xFF:
        hint = " (it starts with erased flash: a merged flash image or a flash dump, not an app)"
    raise InvalidImage(f"not an ESP firmware image: first byte is 0x{first:02X}, expected 0xE9{hint}")


def _chip_of(data: bytes) -> str:
    """Tell the ESP32 family (extended header with a known chip id) from the ESP8266."""
    if data[0] == ESP8266_V2_MAGIC:
        return "esp8266"
    _, _, _, _, chip_id, _, _, _, reserved, hash_appended = _EXTENDED_HEADER.unpack_from(data, 8)
    if reserved == b"\0\0\0\0" and hash_appended in (0, 1):
        if chip_id in CHIP_BY_IMAGE_ID:
            return CHIP_BY_IMAGE_ID[chip_id]
        if data[8] == 0xEE:  # the ESP32-family "WP pin disabled" marker: a chip this version does not know
            raise InvalidImage(f"unknown chip id {chip_id} in the image header")
    return "esp8266"


def _parse(chip: str, data: bytes) -> Any:
    # esptool is imported here, not at module level: it is heavy, and only imports need it.
    from esptool.bin_image import LoadFirmwareImage
    from esptool.util import FatalError

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return LoadFirmwareImage(chip, data)
    except FatalError as exc:
        text = str(exc)
        if "End of file" in text or "unpack requires" in text:
            raise InvalidImage(f"truncated: {_describe_truncation(text, len(data))}") from None
        raise InvalidImage(f"not a valid {chip} image: {text}") from None
    except (struct.error, IndexError, TypeError) as exc:
        raise InvalidImage(f"truncated: the file ends inside the image ({exc})") from None
    except Exception as exc:  # esptool raises a variety of errors on corrupt input; all mean "refuse"
        raise InvalidImage(f"not a valid {chip} image: {exc}") from None


def _describe_truncation(text: str, size: int) -> str:
    return f"{text.strip().rstrip('.')}; the file has {size:,} bytes"


def _check_checksum(image: Any) -> None:
    stored = getattr(image, "checksum", None)
    if stored is None:
        raise InvalidImage("truncated: the file ends before the checksum byte")
    computed = image.calculate_checksum()
    if stored != computed:
        raise InvalidImage(f"checksum mismatch: the image says 0x{stored:02X}, its contents give 0x{computed:02X}")


def _check_digest(image: Any) -> None:
    if not getattr(image, "append_digest", False):
        return
    stored = getattr(image, "stored_digest", b"")
    if len(stored) < 32:
        raise InvalidImage(f"truncated: the SHA-256 digest at the end has {len(stored)} of its 32 bytes")
    if stored != image.calc_digest:
        raise InvalidImage(
            f"SHA-256 digest mismatch: the image says {stored.hex()[:16]}…, its contents give"
            f" {image.calc_digest.hex()[:16]}…"
        )


def _app_description(image: Any) -> dict[str, str | None] | None:
    """Read esp_app_desc_t, which ESP-IDF (and so Arduino-ESP32) puts at the start of the first DROM segment."""
    loader = image.ROM_LOADER
    for segment in image.segments:
        if loader.DROM_MAP_START <= segment.addr < loader.DROM_MAP_END and len(segment.data) >= _APP_DESC.size:
            magic, _, _, version, project, time, date, idf, _ = _APP_DESC.unpack_from(segment.data)
            if magic != APP_DESC_MAGIC:
                return None
            built = " ".join(t for t in (_text(date), _text(time)) if t)
            return {
                "version": _text(version),
                "project": _text(project),
                "idf_version": _text(idf),
                "build_date": built or None,
            }
    return None


def _text(raw: bytes) -> str | None:
    value = raw.split(b"\0", 1)[0].decode("utf-8", "replace")
    value = "".join(ch for ch in value if ch.isprintable()).strip()
    return value or None
