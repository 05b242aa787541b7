"""The request headers each stock update client sends, transcribed from the clients' sources."""

from __future__ import annotations

# HTTP/1.0 is what both Arduino clients speak (`http.useHTTP10(true)`): no chunked answers for them.
ARDUINO_HTTP_VERSION = "1.0"


def esp8266_httpupdate_headers(
    *,
    sta_mac: str,
    free_space: int,
    sketch_size: int,
    sketch_md5: str,
    chip_size: int = 4_194_304,
    sdk_version: str = "2.2.2-dev(38a443e)",
    version: str | None = None,
    mode: str = "sketch",
    chip_id: str = "13464384",
) -> dict[str, str]:
    """ESP8266HTTPUpdate::handleUpdate (esp8266/Arduino, libraries/ESP8266httpUpdate, core 3.x)."""
    headers = {
        "User-Agent": "ESP8266-http-Update",
        "x-ESP8266-Chip-ID": chip_id,
        "x-ESP8266-STA-MAC": sta_mac,  # WiFi.macAddress(): upper-case, colon-separated
        "x-ESP8266-AP-MAC": _ap_mac(sta_mac),
        "x-ESP8266-free-space": str(free_space),
        "x-ESP8266-sketch-size": str(sketch_size),
        "x-ESP8266-sketch-md5": sketch_md5,
        "x-ESP8266-chip-size": str(chip_size),
        "x-ESP8266-sdk-version": sdk_version,
        "x-ESP8266-mode": mode,  # "sketch", or "spiffs" for updateFS()
    }
    if version:
        headers["x-ESP8266-version"] = version  # only when the sketch passes currentVersion
    return headers


def esp32_httpupdate_headers(
    *,
    sta_mac: str,
    free_space: int,
    sketch_size: int,
    sketch_md5: str,
    sketch_sha256: str | None = None,
    chip_size: int = 4_194_304,
    sdk_version: str = "v5.3.2-dirty",
    version: str | None = None,
    mode: str = "sketch",
) -> dict[str, str]:
    """HTTPUpdate::handleUpdate (espressif/arduino-esp32, libraries/HTTPUpdate, core 3.x)."""
    headers = {
        "User-Agent": "ESP32-http-Update",
        "Cache-Control": "no-cache",
        "x-ESP32-STA-MAC": sta_mac,
        "x-ESP32-AP-MAC": _ap_mac(sta_mac),
        "x-ESP32-free-space": str(free_space),
        "x-ESP32-sketch-size": str(sketch_size),
        "x-ESP32-sketch-md5": sketch_md5,  # sent only when ESP.getSketchMD5() is not empty
        "x-ESP32-chip-size": str(chip_size),
        "x-ESP32-sdk-version": sdk_version,
        "x-ESP32-mode": mode,
    }
    if sketch_sha256:
        headers["x-ESP32-sketch-sha256"] = sketch_sha256.upper()
    if version:
        headers["x-ESP32-version"] = version
    return headers


def esp_https_ota_headers() -> dict[str, str]:
    """esp_http_client's defaults as esp_https_ota uses them (espressif/esp-idf): no identity at all."""
    return {"User-Agent": "ESP32 HTTP Client/1.0"}


def _ap_mac(sta_mac: str) -> str:
    # The soft-AP MAC is the station MAC with the first octet's locally-administered bit set.
    try:
        first = int(sta_mac[:2], 16) | 0x02
    except ValueError:
        return sta_mac  # a deliberately mangled MAC in a test: leave it alone
    return f"{first:02X}{sta_mac[2:]}"
