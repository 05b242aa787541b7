"""The stock Arduino update clients, as a simulated station runs them against `GET /ota`.

Headers and answer handling follow ESP8266httpUpdate.cpp (esp8266/Arduino core 3.x, `handleUpdate` and
`runUpdate`) and arduino-esp32 2.0.x HTTPUpdate.cpp (commit c2ad6750); docs/ota-clients.md has the detail.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

import aiohttp

ESP_IMAGE_MAGIC = 0xE9
ESP8266_SDK_VERSION = "2.2.2-dev(38a443e)"  # ESP.getSdkVersion() of core 3.x (NONOS SDK)
ESP32_SDK_VERSION = "v4.4.7-dirty"  # ESP.getSdkVersion() of arduino-esp32 2.0.17 (its esp-idf)

# ESP.getFlashChipMode() (FlashMode_t): what the Updater writes into an image's header byte 2.
FLASH_QIO, FLASH_QOUT, FLASH_DIO, FLASH_DOUT = 0, 1, 2, 3
ESP8266_APP_START = 0x1000  # APP_START_OFFSET in cores/esp8266: the sketch, after eboot
_FLASH_MODE_OFFSET = 2
_GZIP_MAGIC = 0x1F

_CHUNK = 16 * 1024
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")

# no_update: 304; refused: 403; downloaded: verified image; failed: the client's checks refused the image;
# interrupted: the station dropped the link; broken: the link broke; unexpected: an answer the contract rules out.
OtaOutcome = Literal["no_update", "refused", "downloaded", "failed", "interrupted", "broken", "unexpected"]


@dataclass(frozen=True, slots=True)
class RunningSketch:
    """What a station's stock client reports about the firmware it runs."""

    chip: str
    sta_mac: str
    size: int
    md5: str
    free_space: int
    sha256: str | None = None  # ESP32 family only: esp_partition_get_sha256 of the running app
    chip_size: int = 4 * 1024 * 1024


@dataclass(slots=True)
class PartialDownload:
    """The bytes of an image received so far, kept to resume with `Range` (esp_https_ota style)."""

    total: int
    md5_header: str
    etag: str | None
    version_header: str | None
    data: bytearray = field(default_factory=bytearray)


@dataclass(frozen=True, slots=True)
class OtaResult:
    """How one poll of `/ota` ended; `data` is the verified image when `outcome` is "downloaded"."""

    outcome: OtaOutcome
    reason: str = ""
    data: bytes = b""
    version_header: str | None = None
    partial: PartialDownload | None = None


def stock_headers(sketch: RunningSketch, version: str | None) -> dict[str, str]:
    """The headers ESP8266httpUpdate (esp8266) or arduino-esp32 HTTPUpdate (ESP32 family) add, spelt as theirs."""
    if sketch.chip == "esp8266":
        # ESP.getChipId() is the last three octets of the factory MAC, written in decimal.
        chip_id = int(sketch.sta_mac.replace(":", "")[-6:], 16)
        headers = {
            "User-Agent": "ESP8266-http-Update",
            "x-ESP8266-Chip-ID": str(chip_id),
            "x-ESP8266-STA-MAC": sketch.sta_mac,
            "x-ESP8266-AP-MAC": esp8266_softap_mac(sketch.sta_mac),
            "x-ESP8266-free-space": str(sketch.free_space),
            "x-ESP8266-sketch-size": str(sketch.size),
            "x-ESP8266-sketch-md5": sketch.md5,
            "x-ESP8266-chip-size": str(sketch.chip_size),
            "x-ESP8266-sdk-version": ESP8266_SDK_VERSION,
            "x-ESP8266-mode": "sketch",
        }
        if version:
            headers["x-ESP8266-version"] = version
    else:
        headers = {
            "User-Agent": "ESP32-http-Update",
            "Cache-Control": "no-cache",
            "x-ESP32-STA-MAC": sketch.sta_mac,
            "x-ESP32-AP-MAC": esp32_softap_mac(sketch.sta_mac),
            "x-ESP32-free-space": str(sketch.free_space),
            "x-ESP32-sketch-size": str(sketch.size),
            "x-ESP32-sketch-md5": sketch.md5,
        }
        if sketch.sha256:
            headers["x-ESP32-sketch-sha256"] = sketch.sha256.upper()  # getSketchSHA256() prints upper-case
        headers |= {
            "x-ESP32-chip-size": str(sketch.chip_size),
            "x-ESP32-sdk-version": ESP32_SDK_VERSION,
            "x-ESP32-mode": "sketch",
        }
        if version:
            headers["x-ESP32-version"] = version
    # Both clients call useHTTP10(true), which makes their HTTPClient close the connection after each answer.
    headers["Connection"] = "close"
    return headers


def running_sketch_after(
    chip: str, sta_mac: str, data: bytes, free_space: int, flash_mode: int = FLASH_QIO
) -> RunningSketch:
    """What the stock client reports once `data` has been flashed and booted on a chip in `flash_mode`."""
    if chip == "esp8266":
        flash = esp8266_as_flashed(data, flash_mode)
        size = esp8266_sketch_size(flash)
        return RunningSketch(chip, sta_mac, size, hashlib.md5(flash[:size]).hexdigest(), free_space)
    # For an app with its digest appended (byte 23 of the extended header), esp_partition_get_sha256
    # returns that digest: the SHA-256 of the image without its last 32 bytes, not of the whole file.
    # ESP.getSketchMD5() (cores/esp32/Esp.cpp) hashes esp_image_verify's image_len: the whole image.
    appended = len(data) > 56 and data[23] == 1
    sha256 = data[-32:].hex() if appended else hashlib.sha256(data).hexdigest()
    return RunningSketch(chip, sta_mac, len(data), hashlib.md5(data).hexdigest(), free_space, sha256)


def esp8266_as_flashed(data: bytes, flash_mode: int) -> bytes:
    """The image as the esp8266 core's Updater leaves it in flash.

    cores/esp8266/Updater.cpp, `UpdaterClass::_writeBuffer` (core 3.1.x): for a U_FLASH update that is not
    gzip, the first buffer's byte 2 (FLASH_MODE_OFFSET) is set to `ESP.getFlashChipMode()` before it is
    written when the two differ; the byte is put back in the buffer only for the Updater's own MD5.
    """
    if len(data) <= _FLASH_MODE_OFFSET or data[0] == _GZIP_MAGIC:
        return data
    flash = bytearray(data)
    flash[_FLASH_MODE_OFFSET] = flash_mode
    return bytes(flash)


def esp8266_sketch_size(flash: bytes) -> int:
    """`ESP.getSketchSize()`: cores/esp8266/Esp.cpp walks the sketch's segments from APP_START_OFFSET."""
    if len(flash) < ESP8266_APP_START + 8 or flash[ESP8266_APP_START] != ESP_IMAGE_MAGIC:
        return len(flash)  # no eboot in front: not what the Arduino core builds, take it whole
    segments = flash[ESP8266_APP_START + 1]
    pos = ESP8266_APP_START + 8
    for _ in range(segments):
        if pos + 8 > len(flash):
            return len(flash)
        pos += 8 + int.from_bytes(flash[pos + 4 : pos + 8], "little")
    return (pos + 16) & ~15


async def poll_for_update(
    session: aiohttp.ClientSession,
    path: str,
    headers: dict[str, str],
    *,
    free_space: int,
    partial: PartialDownload | None = None,
    cut_at: float | None = None,
    on_start: Callable[[], Awaitable[None]] | None = None,
) -> OtaResult:
    """GET `path` as the stock client does; resume `partial` with `Range`; drop the link at fraction `cut_at`."""
    request_headers = dict(headers)
    if partial is not None:
        request_headers["Range"] = f"bytes={len(partial.data)}-"
        if partial.etag:
            request_headers["If-Range"] = partial.etag
    async with session.get(path, headers=request_headers) as response:
        if response.status == 304:
            return OtaResult("no_update")
        if response.status == 403:
            return OtaResult("refused", "Forbidden (403)")
        if response.status == 206 and partial is not None:
            problem = _continues(response, partial)
            if problem:
                return OtaResult("unexpected", problem)
            download = partial
        elif response.status == 200:
            length = response.content_length or 0
            md5_header = response.headers.get("x-MD5", "")
            if length <= 0:
                return OtaResult("failed", "Server Did Not Report Size (no Content-Length)")
            if length > free_space:
                return OtaResult("failed", f"Not Enough space: {length} bytes offered, {free_space} free")
            if md5_header and len(md5_header) != 32:
                return OtaResult("failed", f"Wrong MD5: x-MD5 {md5_header[:40]!r} is not 32 characters")
            download = PartialDownload(
                total=length,
                md5_header=md5_header,
                etag=response.headers.get("ETag"),
                version_header=response.headers.get("x-Firmware-Version"),
            )
        else:
            return OtaResult("unexpected", f"Wrong HTTP Code ({response.status})")
        # Keep reading while on_start reports: aiohttp drops unread bytes when a link breaks, a radio would not.
        receiving = asyncio.ensure_future(_receive(response, download, cut_at))
        if on_start is not None and response.status == 200:
            try:
                await on_start()
            except BaseException:
                receiving.cancel()
                raise
        return await receiving


def esp8266_softap_mac(sta_mac: str) -> str:
    """WiFi.softAPmacAddress() on an ESP8266: the STA MAC with the locally-administered bit set."""
    return f"{int(sta_mac[:2], 16) | 0x02:02X}{sta_mac[2:]}"


def esp32_softap_mac(sta_mac: str) -> str:
    """WiFi.softAPmacAddress() on an ESP32 or ESP32-C3 (four universal MACs): base MAC, last octet + 1."""
    octets = sta_mac.split(":")
    octets[-1] = f"{(int(octets[-1], 16) + 1) & 0xFF:02X}"
    return ":".join(octets)


async def _receive(response: aiohttp.ClientResponse, download: PartialDownload, cut_at: float | None) -> OtaResult:
    try:
        async for chunk in response.content.iter_chunked(_CHUNK):
            if not download.data and chunk[0] != ESP_IMAGE_MAGIC:
                # The real clients peek at the first byte before writing anything to flash.
                return OtaResult("failed", f"Verify Bin Header Failed: first byte 0x{chunk[0]:02X}, not 0xE9")
            download.data += chunk
            if cut_at is not None and len(download.data) >= cut_at * download.total:
                response.close()  # the station's link drops mid-download
                return OtaResult("interrupted", _progress(download), partial=download)
    except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, TimeoutError) as exc:
        return OtaResult("broken", f"{_progress(download)} ({type(exc).__name__})", partial=download)
    if len(download.data) != download.total:
        return OtaResult("broken", _progress(download), partial=download)
    data = bytes(download.data)
    digest = hashlib.md5(data).hexdigest()
    if download.md5_header and digest != download.md5_header.lower():
        return OtaResult("failed", f"Update error: MD5 Check Failed (x-MD5 {download.md5_header}, image {digest})")
    return OtaResult("downloaded", data=data, version_header=download.version_header)


def _continues(response: aiohttp.ClientResponse, partial: PartialDownload) -> str:
    """Return why a 206 does not carry on from `partial`, or "" when it does."""
    match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
    if match is None:
        return "206 without a valid Content-Range"
    first, last, size = (int(group) for group in match.groups())
    if first != len(partial.data) or size != partial.total or last != size - 1:
        return f"206 with Content-Range bytes {first}-{last}/{size}, asked for bytes={len(partial.data)}-"
    if response.content_length != size - first:
        return f"206 with Content-Length {response.content_length} for bytes {first}-{last}"
    return ""


def _progress(download: PartialDownload) -> str:
    return f"download broke off at {len(download.data)} of {download.total} bytes"
