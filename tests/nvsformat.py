"""An NVS partition reader for the tests, written from the format as ESP-IDF documents it.

Kept apart from the simulator's reader on purpose (services/simulator/nvsread.py): if either one misreads
the format, the other still catches it. Every CRC is checked; anything the format rules out is an error.

Layout: the partition is 4 KiB pages. A page is a 32-byte header (state u32, sequence u32, version u8,
19 unused bytes, CRC32 of bytes 4..27), a 32-byte entry-state bitmap (two bits per entry: 11 empty,
10 written, 00 erased) and 126 entries of 32 bytes. An entry is namespace index u8, type u8, span u8,
chunk index u8, CRC32 u32 (of the entry without these four bytes), a 16-byte NUL-padded key and 8 bytes
of data. Strings (type 0x21) keep size u16, 2 reserved bytes and the CRC32 of their bytes in the data
field, and the bytes themselves in the `span - 1` entries that follow. Namespace names are U8 entries of
namespace 0 whose value is the index the namespace's entries carry.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

PAGE = 4096
ENTRY = 32
ENTRIES_PER_PAGE = 126
PAGE_ACTIVE, PAGE_FULL, PAGE_EMPTY = 0xFFFFFFFE, 0xFFFFFFFC, 0xFFFFFFFF
WRITTEN, EMPTY = 0b10, 0b11
INTEGER_TYPES = {0x01: "<B", 0x11: "<b", 0x02: "<H", 0x12: "<h", 0x04: "<I", 0x14: "<i", 0x08: "<Q", 0x18: "<q"}
STRING = 0x21


class NvsFormatError(AssertionError):
    """The bytes are not a valid NVS partition."""


@dataclass(frozen=True)
class NvsValue:
    """One stored value with the NVS type code it was written as."""

    type_code: int
    value: int | str


def crc32(data: bytes) -> int:
    """NVS's CRC32: the IEEE polynomial, started from 0xFFFFFFFF as esp_rom_crc32_le(0xffffffff, ...)."""
    return zlib.crc32(data, 0xFFFFFFFF) & 0xFFFFFFFF


def read_partition(image: bytes) -> dict[str, dict[str, NvsValue]]:
    """Every namespace of the partition with its keys; NvsFormatError on any breach of the format."""
    if not image or len(image) % PAGE:
        raise NvsFormatError(f"an NVS partition is whole 4 KiB pages, got {len(image)} bytes")
    names: dict[int, str] = {}
    raw: list[tuple[int, str, NvsValue]] = []
    for number in range(len(image) // PAGE):
        for ns, key, value in _page_entries(image[number * PAGE : (number + 1) * PAGE], number):
            if ns == 0:
                if not isinstance(value.value, int) or value.type_code != 0x01:
                    raise NvsFormatError(f"namespace entry {key!r} is not a U8")
                names[value.value] = key
            else:
                raw.append((ns, key, value))
    found: dict[str, dict[str, NvsValue]] = {name: {} for name in names.values()}
    for ns, key, value in raw:
        if ns not in names:
            raise NvsFormatError(f"key {key!r} names namespace index {ns}, which no namespace entry defines")
        if key in found[names[ns]]:
            raise NvsFormatError(f"key {key!r} is written twice in {names[ns]!r}")
        found[names[ns]][key] = value
    return found


def _page_entries(page: bytes, number: int) -> list[tuple[int, str, NvsValue]]:
    state, _sequence, _version = struct.unpack_from("<IIB", page, 0)
    if state == PAGE_EMPTY:
        if page != b"\xff" * PAGE:
            raise NvsFormatError(f"page {number} is marked empty but holds data")
        return []
    if state not in (PAGE_ACTIVE, PAGE_FULL):
        raise NvsFormatError(f"page {number} has state {state:#x}, neither active nor full")
    if crc32(page[4:28]) != struct.unpack_from("<I", page, 28)[0]:
        raise NvsFormatError(f"page {number}: header CRC mismatch")
    bitmap = page[32:64]
    entries: list[tuple[int, str, NvsValue]] = []
    index = 0
    while index < ENTRIES_PER_PAGE:
        entry_state = (bitmap[index // 4] >> (index % 4 * 2)) & 0b11
        if entry_state == EMPTY:
            index += 1
            continue
        if entry_state != WRITTEN:
            raise NvsFormatError(f"page {number} entry {index}: erased entries have no place in a fresh image")
        offset = 64 + index * ENTRY
        entry = page[offset : offset + ENTRY]
        ns, type_code, span, _chunk = entry[0], entry[1], entry[2], entry[3]
        if crc32(entry[0:4] + entry[8:32]) != struct.unpack_from("<I", entry, 4)[0]:
            raise NvsFormatError(f"page {number} entry {index}: entry CRC mismatch")
        key_bytes = entry[8:24]
        if b"\0" not in key_bytes:
            raise NvsFormatError(f"page {number} entry {index}: the key is not NUL-terminated")
        key = key_bytes.split(b"\0", 1)[0].decode("ascii")
        if type_code in INTEGER_TYPES:
            if span != 1:
                raise NvsFormatError(f"{key!r}: an integer spans one entry, not {span}")
            value: int | str = struct.unpack_from(INTEGER_TYPES[type_code], entry, 24)[0]
        elif type_code == STRING:
            value = _string(page, index, entry, span, key)
        else:
            raise NvsFormatError(f"{key!r}: type {type_code:#x} is not one the bundle writes")
        for covered in range(index + 1, index + span):
            if (bitmap[covered // 4] >> (covered % 4 * 2)) & 0b11 != WRITTEN:
                raise NvsFormatError(f"{key!r}: entry {covered} of its span is not marked written")
        entries.append((ns, key, NvsValue(type_code, value)))
        index += span
    return entries


def _string(page: bytes, index: int, entry: bytes, span: int, key: str) -> str:
    size, _reserved, data_crc = struct.unpack_from("<HHI", entry, 24)
    if span < 1 or index + span > ENTRIES_PER_PAGE:
        raise NvsFormatError(f"{key!r}: a span of {span} runs off the page")
    if size > (span - 1) * ENTRY:
        raise NvsFormatError(f"{key!r}: {size} bytes do not fit in {span - 1} data entries")
    start = 64 + (index + 1) * ENTRY
    data = page[start : start + size]
    if crc32(data) != data_crc:
        raise NvsFormatError(f"{key!r}: data CRC mismatch")
    if not data.endswith(b"\0"):
        raise NvsFormatError(f"{key!r}: a string ends with its NUL")
    return data[:-1].decode("utf-8")
