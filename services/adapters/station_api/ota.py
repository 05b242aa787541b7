"""`GET /ota` for the stock update clients: who is asking, and 304 or the image it is offered."""

from __future__ import annotations

import logging

from aiohttp import web

from services.adapters.station_api.keys import JOURNAL, LIBRARY, OFFERS, STORED_IMAGES
from services.adapters.station_api.sending import send_image
from services.adapters.station_api.storedimages import CorruptStoredImage
from services.core.errors import InvalidInput, NotFound
from services.core.macaddr import parse_mac
from services.core.models import FirmwareImage
from services.core.numbers import parse_whole_number
from services.domain.fleet import OtaRequest

log = logging.getLogger(__name__)

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
    return await _serve(request, ota_request.mac, image)


async def by_digest(request: web.Request) -> web.StreamResponse:
    """Serve a stored image by its SHA-256 (for ESPHome, whose download names no station)."""
    name = request.match_info["name"]
    sha256 = name.removesuffix(".bin").lower()
    image = await request.app[JOURNAL].registry.images.get(sha256) if len(sha256) == 64 else None
    if image is None:
        raise NotFound(f"no image {name[:80]!r}")  # repr: the name may hold line breaks or lone surrogates
    return await _serve(request, None, image)


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


async def _serve(request: web.Request, mac: str | None, image: FirmwareImage) -> web.StreamResponse:
    """Send the stored image, once its file is known to still hold it (503 if the store lost it)."""
    path = request.app[LIBRARY].store.path_for(image.sha256)
    try:
        await request.app[STORED_IMAGES].check(image.sha256, path)
    except CorruptStoredImage as exc:
        log.error("%s; not serving it%s", exc.message, f" to {mac}" if mac else "")
        return web.json_response({"error": {"code": exc.code, "message": exc.message}}, status=503)
    return await send_image(request, mac, image, path)


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
