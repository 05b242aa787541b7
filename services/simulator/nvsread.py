"""Reading an NVS partition image as a station's nvs_flash would, so a simulated station can boot from one.

Independent of the tests' reader (tests/nvsformat.py) on purpose. A page is 4096 bytes: a 32-byte header
whose CRC32 covers bytes 4-27, a 2-bit-per-entry state bitmap, then 126 entries of 32 bytes. Only entries
marked written count; each one's CRC32 covers all its bytes but the CRC field itself.
"""

from __future__ import annotations

import struct
import zlib

_PAGE, _ITEM, _ITEMS = 4096, 32, 126
_STATE_WRITTEN = 2
_PRIMITIVES = {0x01: "B", 0x02: "H", 0x04: "I", 0x08: "Q", 0x11: "b", 0x12: "h", 0x14: "i", 0x18: "q"}
_SZ = 0x21


class NvsError(ValueError):
    """The image is not an NVS partition this reader can trust."""


def read_namespace(image: bytes, namespace: str) -> dict[str, int | str]:
    """The keys of one namespace: integers and strings (blobs are not read); NvsError on a bad image."""
    if len(image) % _PAGE or not image:
        raise NvsError("an NVS partition is a whole number of 4 KiB pages")
    items = [item for offset in range(0, len(image), _PAGE) for item in _page_items(image[offset : offset + _PAGE])]
    indexes = {key: value for ns, _, key, value in items if ns == 0 and isinstance(value, int)}
    if namespace not in indexes:
        raise NvsError(f"the image has no namespace {namespace!r}")
    return {key: value for ns, _, key, value in items if ns == indexes[namespace] and ns != 0}


def _page_items(page: bytes) -> list[tuple[int, int, str, int | str]]:
    state = struct.unpack_from("<I", page)[0]
    if state == 0xFFFFFFFF:
        return []  # never used
    if _crc(page[4:28]) != struct.unpack_from("<I", page, 28)[0]:
        raise NvsError("a page header's CRC is wrong")
    found: list[tuple[int, int, str, int | str]] = []
    slot = 0
    while slot < _ITEMS:
        if (page[32 + slot // 4] >> (2 * (slot % 4))) & 3 != _STATE_WRITTEN:
            slot += 1
            continue
        item = page[64 + slot * _ITEM : 64 + (slot + 1) * _ITEM]
        ns, kind, span = item[0], item[1], max(item[2], 1)
        if _crc(item[:4] + item[8:]) != struct.unpack_from("<I", item, 4)[0]:
            raise NvsError("an entry's CRC is wrong")
        key = item[8:24].partition(b"\0")[0].decode("ascii", "replace")
        if kind in _PRIMITIVES:
            found.append((ns, kind, key, struct.unpack_from("<" + _PRIMITIVES[kind], item, 24)[0]))
        elif kind == _SZ:
            length, _, crc = struct.unpack_from("<HHI", item, 24)
            start = 64 + (slot + 1) * _ITEM
            data = page[start : start + length]
            if len(data) != length or _crc(data) != crc:
                raise NvsError(f"the string {key!r} is damaged")
            found.append((ns, kind, key, data.rstrip(b"\0").decode("utf-8")))
        slot += span
    return found


def _crc(data: bytes) -> int:
    return zlib.crc32(data, 0xFFFFFFFF) & 0xFFFFFFFF
