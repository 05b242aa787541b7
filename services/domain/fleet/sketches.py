"""Which library image a station runs, told from the digest its stock update client reports of its sketch.

The esp8266 core's Updater (cores/esp8266/Updater.cpp, `_writeBuffer`, FLASH_MODE_OFFSET) writes byte 2 of
the image header as the flash mode the chip is running in, and restores it only for its own MD5 check;
after the reboot `ESP.getSketchMD5()` (cores/esp8266/Esp.cpp) hashes the first `ESP.getSketchSize()` bytes
of flash. A DOUT module given a QIO build therefore reports the MD5 of no file. The ESP32 family changes no
byte (arduino-esp32's Update holds the first bytes back and writes them unchanged at the end; esp-idf's
`esp_ota_write` only checks the magic byte) but also hashes `getSketchSize()` bytes (the image as
`esp_image_verify` measures it). So both are compared over the length the station itself reports.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from pathlib import Path

from services.core.models import FirmwareImage
from services.domain.firmware.store import FirmwareStore
from services.store.registry import Registry
from services.store.registry.batched import BatchedCache
from services.store.registry.database import ALL, site_wide

# What ESP.getFlashChipMode() returns (FlashMode_t): QIO, QOUT, DIO, DOUT.
FLASH_MODES = (0, 1, 2, 3)
_FLASH_MODE_OFFSET = 2
_CACHED = 256  # (image, length) pairs whose digests are kept: a few bytes each


def chip_family(chip: str) -> str:
    """ "esp8266", or "esp32" for every chip of the ESP32 family (what the Arduino clients' headers tell)."""
    return "esp8266" if chip == "esp8266" else "esp32"


def client_family(ota_client: str | None) -> str | None:
    """The chip family a stored update client name implies ("ESP8266httpUpdate ...", "HTTPUpdate ..."), if any."""
    if ota_client is None:
        return None
    if ota_client.startswith("ESP8266httpUpdate"):
        return "esp8266"
    return "esp32" if ota_client.startswith("HTTPUpdate") else None


class SketchRecognizer:
    """Matches a running sketch's reported digests against the firmware library."""

    def __init__(self, registry: Registry, store: FirmwareStore) -> None:
        self._registry = registry
        self._store = store
        self._digests: OrderedDict[tuple[str, int], frozenset[str]] = OrderedDict()
        # Sketches found to be no library image, until the library changes (a station runs one for months).
        self._unknown: set[tuple[str | None, str | None, int | None, str | None]] = set()
        # The library's images, read once after each change of it: stations polling together share the read.
        self._library: BatchedCache[str, list[FirmwareImage]] = BatchedCache(
            self._read_library, at_once=1, name="library"
        )
        registry.views.follow(self._library_changed)

    async def runs(self, image: FirmwareImage, *, md5: str | None, sha256: str | None, sketch_size: int | None) -> bool:
        """True when the station's reported sketch digests are those of `image` as it would sit in flash."""
        if sha256 is not None and image.app_sha256 is not None and sha256.lower() == image.app_sha256:
            return True
        if md5 is None:
            return False
        md5 = md5.lower()
        return md5 == image.md5 or md5 in await self._sketch_md5s(image, sketch_size)

    async def recognise(
        self, *, md5: str | None, sha256: str | None, sketch_size: int | None, family: str | None
    ) -> FirmwareImage | None:
        """The library image the station runs, if any (of its chip family when that is known)."""
        if md5 is None and sha256 is None:
            return None
        key = (md5, sha256, sketch_size, family)
        if key in self._unknown:
            return None
        library = await self._library.get(ALL) or []
        images = [i for i in library if family is None or chip_family(i.chip) == family]
        # The cheap comparisons first: most stations run an image exactly as it was served.
        for image in images:
            if (sha256 is not None and sha256.lower() == image.app_sha256) or (
                md5 is not None and md5.lower() == image.md5
            ):
                return image
        for image in images:
            if await self.runs(image, md5=md5, sha256=None, sketch_size=sketch_size):
                return image
        if len(self._unknown) < _CACHED * 16:  # bounded: a LAN host making up digests fills nothing for ever
            self._unknown.add(key)
        return None

    def _library_changed(self, macs: frozenset[str]) -> None:
        if site_wide(macs):  # an image was imported or deleted (an assignment too: harmless)
            self._unknown.clear()
            self._library.forget_all()

    async def _read_library(self, _: list[str]) -> dict[str, list[FirmwareImage]]:
        return {ALL: await self._registry.images.all()}

    async def _sketch_md5s(self, image: FirmwareImage, sketch_size: int | None) -> frozenset[str]:
        length = sketch_size if sketch_size is not None and 0 < sketch_size <= image.size else image.size
        key = (image.sha256, length)
        found = self._digests.get(key)
        if found is None:
            path = self._store.path_for(image.sha256)
            found = await asyncio.to_thread(_md5s_as_flashed, path, length, image.chip == "esp8266")
            self._digests[key] = found
            while len(self._digests) > _CACHED:
                self._digests.popitem(last=False)
        else:
            self._digests.move_to_end(key)
        return found


def _md5s_as_flashed(path: Path, length: int, rewrites_flash_mode: bool) -> frozenset[str]:
    """The MD5s of the first `length` bytes of the stored image as it may sit in flash."""
    with path.open("rb") as file:
        data = bytearray(file.read(length))
    digests = {hashlib.md5(data).hexdigest()}
    if not rewrites_flash_mode or len(data) <= _FLASH_MODE_OFFSET:
        return frozenset(digests)
    for mode in FLASH_MODES:
        data[_FLASH_MODE_OFFSET] = mode
        digests.add(hashlib.md5(data).hexdigest())
    return frozenset(digests)
