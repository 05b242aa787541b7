"""`GET /ota` for the stock update clients: 304, or the image with Content-Length, x-MD5 and Range."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import re
import socket
import termios

from aiohttp import web

from services.errors import InvalidInput, NotFound
from services.fleet import OtaRequest
from services.fleet.journal import EventLog
from services.macaddr import parse_mac
from services.models import FirmwareImage
from services.numbers import parse_whole_number
from services.registry.history import finish_transfer, start_transfer
from services.station_api.imagecache import CorruptStoredImage
from services.station_api.keys import IMAGE_CACHE, JOURNAL, LIBRARY, OFFERS, SEND_TIMEOUT

log = logging.getLogger(__name__)

_CHUNK = 16 * 1024
# An ESP's TCP window is a few KiB; 64 KiB in flight keeps a Wi-Fi link busy and the accounting honest.
_SEND_BUFFER = 64 * 1024
# ASCII digits, at most 15 (a petabyte): \d would take any script's digits, and int() chokes past 4,300.
_RANGE = re.compile(r"bytes=([0-9]{0,15})-([0-9]{0,15})")
# Header prefixes of the Arduino clients, the chip each implies and its family (the ESP32 one covers the
# family: arduino-esp32's HTTPUpdate sends x-ESP32-* on the S2, S3, C3, C6... alike).
_ARDUINO_CLIENTS = (
    ("x-ESP8266-", "ESP8266httpUpdate", "esp8266", "esp8266"),
    ("x-ESP32-", "HTTPUpdate", None, "esp32"),
)
# Filesystem modes: "spiffs" (both cores), "fatfs", "littlefs", "flashfs" (arduino-esp32 3.x updateFs).
_FILESYSTEM_MODES = ("spiffs", "littlefs", "fatfs", "flashfs", "filesystem")


async def ota(request: web.Request) -> web.StreamResponse:
    """Answer a stock client's poll for its station."""
    ota_request = parse_ota_request(request)
    image = await request.app[OFFERS].decide(ota_request)
    if image is None:
        return web.Response(status=304)
    if ota_request.mode == "version":
        # ESP8266httpUpdate::getAvailableVersion: 200 and the version in x-version, no image.
        return web.Response(status=200, headers={"x-version": offered_version(image)})
    try:
        data = await request.app[IMAGE_CACHE].get(image.sha256, request.app[LIBRARY].store.path_for(image.sha256))
    except CorruptStoredImage as exc:
        log.error("%s; not serving it to %s", exc.message, ota_request.mac)
        return web.json_response({"error": {"code": exc.code, "message": exc.message}}, status=503)
    return await _send(request, ota_request.mac, image, data)


async def by_digest(request: web.Request) -> web.StreamResponse:
    """Serve a stored image by its SHA-256 (for ESPHome, whose download names no station)."""
    name = request.match_info["name"]
    sha256 = name.removesuffix(".bin").lower()
    image = await request.app[JOURNAL].registry.images.get(sha256) if len(sha256) == 64 else None
    if image is None:
        raise NotFound(f"no image {name[:80]!r}")  # repr: the name may hold line breaks or lone surrogates
    try:
        data = await request.app[IMAGE_CACHE].get(image.sha256, request.app[LIBRARY].store.path_for(image.sha256))
    except CorruptStoredImage as exc:
        log.error("%s; not serving it", exc.message)
        return web.json_response({"error": {"code": exc.code, "message": exc.message}}, status=503)
    return await _send(request, None, image, data)


def parse_ota_request(request: web.Request) -> OtaRequest:
    """Read the station's identity and state from the path or the headers its client sends."""
    headers = request.headers
    path_mac = request.match_info.get("mac")
    agent = _header_text(headers.get("User-Agent"))
    for prefix, client, chip, family in _ARDUINO_CLIENTS:
        # Newer arduino-esp32 sends only the base MAC on chips without Wi-Fi (P4, H2); it is the STA MAC otherwise.
        mac_header = headers.get(prefix + "STA-MAC") or headers.get(prefix + "BASE-MAC")
        if mac_header is None and not (path_mac and headers.get(prefix + "mode")):
            continue
        mode = (headers.get(prefix + "mode") or "sketch").strip().lower()
        if mode not in ("sketch", "version", *_FILESYSTEM_MODES):
            raise InvalidInput(f"{prefix}mode must be 'sketch', 'version' or 'spiffs', got {mode[:20]!r}")
        return OtaRequest(
            mac=parse_mac(path_mac or mac_header),
            client=_named(client, agent),
            chip_hint=chip,
            version=_header_text(headers.get(prefix + "version")),
            sketch_md5=_hex_digest(headers.get(prefix + "sketch-md5"), 32),
            sketch_sha256=_hex_digest(headers.get(prefix + "sketch-sha256"), 64),
            free_space=_header_int(prefix + "free-space", headers.get(prefix + "free-space")),
            mode="filesystem" if mode in _FILESYSTEM_MODES else "version" if mode == "version" else "sketch",
            sketch_size=_header_int(prefix + "sketch-size", headers.get(prefix + "sketch-size")),
            chip_size=_header_int(prefix + "chip-size", headers.get(prefix + "chip-size")),
            sdk_version=_header_text(headers.get(prefix + "sdk-version")),
            ip=request.remote,
            family=family,
        )
    if path_mac is None:
        raise InvalidInput(
            "no station identity: the stock clients send x-ESP8266-STA-MAC or x-ESP32-STA-MAC;"
            " other clients use /ota/<MAC>"
        )
    return OtaRequest(mac=parse_mac(path_mac), client=_named("esp_https_ota", agent), ip=request.remote)


def _named(client: str, agent: str | None) -> str:
    """The client as the admin sees it: which library, by its headers, and what its User-Agent says."""
    return f"{client} ({agent})" if agent else client


def offered_version(image: FirmwareImage) -> str:
    """The version an image is told by: its own, or the start of its digest when it names none (ESP8266)."""
    return image.version or image.sha256[:12]


async def _send(request: web.Request, mac: str | None, image: FirmwareImage, data: bytes) -> web.StreamResponse:
    size = len(data)
    etag = f'"{image.sha256[:32]}"'
    first, last = _byte_range(request, size, etag)
    response = web.StreamResponse(status=200 if (first, last) == (0, size - 1) else 206)
    response.content_length = last - first + 1
    response.content_type = "application/octet-stream"
    response.headers["x-MD5"] = image.md5
    response.headers["ETag"] = etag
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["Content-Disposition"] = f'attachment; filename="{image.filename}"'
    # Informative: lets a client that cannot parse an app description (ESP8266) know what it got.
    if image.version:
        response.headers["x-Firmware-Version"] = image.version
    if response.status == 206:
        response.headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    journal = request.app[JOURNAL]

    async def begin(entry: EventLog) -> int:
        assert mac is not None
        transfer_id = await start_transfer(
            entry.conn, mac=mac, sha256=image.sha256, now=entry.now, range_start=first, range_end=last
        )
        rollouts = request.app[OFFERS].rollouts
        if rollouts is not None:
            await rollouts.transfer_started(entry, mac, image.sha256)
        return transfer_id

    if request.method == "HEAD":
        # esp_https_ota's partial download asks HEAD first, for the size only.
        await response.prepare(request)
        return response
    # Downloads by digest name no station: they are served, not logged against one.
    transfer_id = None if mac is None else await journal.write(begin)
    sock = _limit_send_buffer(request)
    stall_s = request.app.get(SEND_TIMEOUT)
    sent = 0
    delivered = 0  # what the station's TCP stack acknowledged, as far as the kernel says
    try:
        await response.prepare(request)
        view = memoryview(data)
        for offset in range(first, last + 1, _CHUNK):
            chunk = view[offset : min(offset + _CHUNK, last + 1)]
            # write() waits for the socket to drain, so a slow station is paced; one that stops reading
            # altogether (gone from the Wi-Fi, or hostile) is given up once a chunk makes no headway.
            async with asyncio.timeout(stall_s):
                await response.write(chunk)
            sent += len(chunk)
            delivered = sent - _unacknowledged(sock)
        await response.write_eof()
        delivered = sent
    except ConnectionError:
        log.info("%s went away after %d of %d bytes (%d sent)", mac, delivered, last - first + 1, sent)
    except TimeoutError:
        log.info("%s stopped reading after %d of %d bytes; hanging up", mac, delivered, last - first + 1)
        if request.transport is not None:
            request.transport.abort()
    finally:
        if transfer_id is not None and mac is not None:
            await _log_transfer(request, transfer_id, mac, image, first, delivered, last - first + 1)
    return response


async def _log_transfer(
    request: web.Request, transfer_id: int, mac: str, image: FirmwareImage, first: int, sent: int, wanted: int
) -> None:
    complete = sent == wanted
    reached = first + sent
    what = " ".join(str(v) for v in (image.project, image.version) if v) or image.sha256[:12]
    if complete and first + wanted == image.size:
        kind, message = "download_finished", f"{mac} downloaded {what} ({image.size:,} bytes)"
    elif complete:
        kind, message = "download_part", f"{mac} downloaded bytes {first:,}-{reached - 1:,} of {what}"
    else:
        percent = 100 * reached // max(image.size, 1)
        kind, message = "download_interrupted", f"{mac} stopped downloading {what} at {percent} %"

    async def finish(entry: EventLog) -> None:
        await finish_transfer(entry.conn, transfer_id, bytes_sent=sent, complete=complete, now=entry.now)
        await entry(kind, mac, message, sha256=image.sha256, first=first, bytes=sent, size=image.size)
        rollouts = request.app[OFFERS].rollouts
        if rollouts is not None:
            await rollouts.transfer_finished(entry, mac, image.sha256, reached / max(image.size, 1))

    await request.app[JOURNAL].write(finish)


def _limit_send_buffer(request: web.Request) -> socket.socket | None:
    """Keep the kernel's send buffer small, so that "bytes sent" is close to "bytes the station got"."""
    sock: socket.socket | None = request.transport.get_extra_info("socket") if request.transport else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SEND_BUFFER)
    return sock


def _unacknowledged(sock: socket.socket | None) -> int:
    """Bytes written to the socket that the station has not acknowledged yet (Linux SIOCOUTQ), 0 if unknown.

    A download that breaks off is then logged at what the station had, not at what sat in the send buffer.
    """
    if sock is None:
        return 0
    try:
        answer = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
    except (OSError, ValueError):
        return 0
    return max(int.from_bytes(answer, "little", signed=True), 0)


def _byte_range(request: web.Request, size: int, etag: str) -> tuple[int, int]:
    """Return the inclusive byte range to send; the whole image unless a single valid Range asks less."""
    header = request.headers.get("Range")
    if header is None or size == 0:
        return 0, size - 1
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range.strip() != etag:
        return 0, size - 1  # the image changed since the partial download began: start again
    match = _RANGE.fullmatch(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        # Multiple or malformed ranges: RFC 9110 lets a server ignore Range and send it all.
        return 0, size - 1
    start_text, end_text = match.groups()
    if start_text == "":
        first, last = max(size - int(end_text), 0), size - 1
    else:
        first = int(start_text)
        last = min(int(end_text), size - 1) if end_text else size - 1
    if first >= size or first > last:
        raise web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    return first, last


def _header_text(value: str | None) -> str | None:
    # Stored and shown to the admin's terminal: control characters (an escape sequence from a LAN host) go.
    if value is None:
        return None
    text = "".join(ch for ch in value if ch.isprintable()).strip()
    return text[:64] or None


def _hex_digest(value: str | None, length: int) -> str | None:
    # A digest we cannot read only means we cannot tell what the station runs: never an error.
    if value is None:
        return None
    value = value.strip().lower()
    return value if len(value) == length and all(c in "0123456789abcdef" for c in value) else None


def _header_int(name: str, value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    return parse_whole_number(value, f"header {name}")
