"""Request headers of the stock ESP update clients, as their sources write them (see docs/ota-clients.md).

Each function returns the headers the client adds itself. The HTTP layer under them also sends, and a
test's HTTP client supplies: ``Host`` (``host`` or ``host:port`` when the port is not 80/443) and, for the
two Arduino clients, ``Connection: close`` on an ``HTTP/1.0`` request line (``useHTTP10(true)``).
Header names keep the spelling of the source (``x-ESP8266-...``, ``x-ESP32-...``).
"""

from __future__ import annotations

from typing import Final, Literal

# --- request line -------------------------------------------------------------------------------

#: ESP8266httpUpdate (core >= 2.5) and arduino-esp32 HTTPUpdate call ``http.useHTTP10(true)``: "GET <uri> HTTP/1.0".
ARDUINO_HTTP_VERSION: Final = "1.0"
#: esp_http_client's DEFAULT_HTTP_PROTOCOL: "GET <path>[?query] HTTP/1.1".
ESP_HTTP_CLIENT_HTTP_VERSION: Final = "1.1"

# --- User-Agent values --------------------------------------------------------------------------

ESP8266_HTTPUPDATE_USER_AGENT: Final = "ESP8266-http-Update"
ESP32_HTTPUPDATE_USER_AGENT: Final = "ESP32-http-Update"
#: DEFAULT_HTTP_USER_AGENT in components/esp_http_client/esp_http_client.c (overridable by config.user_agent).
ESP_HTTP_CLIENT_USER_AGENT: Final = "ESP32 HTTP Client/1.0"

# --- what each client does with a status --------------------------------------------------------

#: ESP8266httpUpdate::handleUpdate: 304 -> HTTP_UPDATE_NO_UPDATES; 200 (+Content-Length) -> flash.
ESP8266_NO_UPDATE_STATUSES: Final = frozenset({304})
#: Named failures (404 -102, 403 -103, core 3.x: 401 -108); any other code -> -104 "Wrong HTTP Code".
ESP8266_NAMED_ERROR_STATUSES: Final = frozenset({401, 403, 404})
#: arduino-esp32 HTTPUpdate 2.x and 3.x releases: only 304 means "no update".
ESP32_NO_UPDATE_STATUSES: Final = frozenset({304})
#: arduino-esp32 master (2026, commit 0bc90bb5): HTTP_CODE_NO_CONTENT joins HTTP_CODE_NOT_MODIFIED.
ESP32_MASTER_NO_UPDATE_STATUSES: Final = frozenset({204, 304})
#: HTTPUpdate::handleUpdate: 404 -> -102, 403 -> -103, anything else (incl. 206, 3xx unfollowed) -> -104.
ESP32_NAMED_ERROR_STATUSES: Final = frozenset({403, 404})
#: Statuses for which the Arduino clients write flash (and only with Content-Length > 0).
ARDUINO_FLASH_STATUSES: Final = frozenset({200})

#: esp_https_ota redirection_required(): followed unconditionally by _http_connect (esp-idf v5).
ESP_HTTPS_OTA_REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
#: 401 is retried with credentials (max_authorization_retries, default 10); everything 400-599 else fails.
ESP_HTTPS_OTA_RETRY_STATUSES: Final = frozenset({401})
#: Newer esp-idf (master commit 6f1f41ff): 304 -> ESP_ERR_HTTP_NOT_MODIFIED; older v5 copies (70d4414e)
#: have no 304 case and fail later with "Complete headers were not received".
ESP_HTTPS_OTA_NOT_MODIFIED_STATUS: Final = 304
#: Newer esp-idf: 416 -> ESP_ERR_HTTP_RANGE_NOT_SATISFIABLE (resumption falls back to a full download).
ESP_HTTPS_OTA_RANGE_NOT_SATISFIABLE_STATUS: Final = 416
#: DEFAULT_REQUEST_SIZE in esp_https_ota.c: max_http_request_size when the config leaves it 0.
ESP_HTTPS_OTA_DEFAULT_MAX_HTTP_REQUEST_SIZE: Final = 64 * 1024

# "version": ESPhttpUpdate.getAvailableVersion() of the core's master branch (esp8266/Arduino #8968, merged
# as fb8d6d6, Nov 2023) asks with x-ESP8266-mode: version and takes 200 + x-version, or 304, as its answer.
Esp8266Mode = Literal["sketch", "spiffs", "version"]
Esp32Mode = Literal["sketch", "spiffs", "fatfs", "littlefs", "flashfs"]


def esp8266_httpupdate_headers(
    *,
    sta_mac: str,
    free_space: int,
    sketch_size: int,
    sketch_md5: str,
    chip_size: int = 4_194_304,
    sdk_version: str = "2.2.2-dev(38a443e)",
    version: str | None = None,
    mode: Esp8266Mode = "sketch",
    chip_id: int = 13_464_384,
    ap_mac: str | None = None,
) -> dict[str, str]:
    """esp8266/Arduino ESP8266httpUpdate/src/ESP8266httpUpdate.cpp, ESP8266HTTPUpdate::handleUpdate (core 3.x)."""
    headers = {
        "User-Agent": ESP8266_HTTPUPDATE_USER_AGENT,
        "x-ESP8266-Chip-ID": str(chip_id),  # String(ESP.getChipId()): decimal
        "x-ESP8266-STA-MAC": sta_mac,  # WiFi.macAddress(): "%02X:%02X:..." upper-case, colons
        "x-ESP8266-AP-MAC": ap_mac if ap_mac is not None else esp8266_softap_mac(sta_mac),
        "x-ESP8266-free-space": str(free_space),  # ESP.getFreeSketchSpace(), bytes
        "x-ESP8266-sketch-size": str(sketch_size),  # ESP.getSketchSize(), bytes
        "x-ESP8266-sketch-md5": sketch_md5,  # ESP.getSketchMD5(): 32 lower-case hex digits
        "x-ESP8266-chip-size": str(chip_size),  # ESP.getFlashChipRealSize(), bytes
        "x-ESP8266-sdk-version": sdk_version,  # ESP.getSdkVersion()
        "x-ESP8266-mode": mode,  # "spiffs" for updateFS(), "version" for getAvailableVersion(), else "sketch"
    }
    if version:  # only when the sketch passes a non-empty currentVersion
        headers["x-ESP8266-version"] = version
    return headers


def esp32_httpupdate_headers(
    *,
    sta_mac: str,
    free_space: int,
    sketch_size: int,
    sketch_md5: str | None,
    sketch_sha256: str | None = None,
    chip_size: int = 4_194_304,
    sdk_version: str = "v5.3.2-dirty",
    version: str | None = None,
    mode: Esp32Mode = "sketch",
    base_mac: str | None = None,
    ap_mac: str | None = None,
    wifi: bool = True,
    core: Literal[2, 3] = 3,
) -> dict[str, str]:
    """espressif/arduino-esp32 libraries/HTTPUpdate/src/HTTPUpdate.cpp, HTTPUpdate::handleUpdate (3.x)."""
    # 2.x differs: no x-ESP32-BASE-MAC, STA/AP MAC always sent, mode is only "sketch"/"spiffs".
    # 3.x: x-ESP32-BASE-MAC = Network.macAddress() (esp_base_mac_addr_get); STA/AP MAC only when
    # SOC_WIFI_SUPPORTED (not on e.g. ESP32-P4/H2: pass wifi=False). "fatfs"/"littlefs"/"flashfs" modes
    # exist in master (commit 0bc90bb5).
    headers = {
        "User-Agent": ESP32_HTTPUPDATE_USER_AGENT,
        "Cache-Control": "no-cache",
    }
    if core >= 3:
        headers["x-ESP32-BASE-MAC"] = base_mac if base_mac is not None else sta_mac
    if wifi or core < 3:
        headers["x-ESP32-STA-MAC"] = sta_mac  # WiFi.macAddress(): upper-case, colons
        headers["x-ESP32-AP-MAC"] = ap_mac if ap_mac is not None else esp32_softap_mac(sta_mac)
    headers["x-ESP32-free-space"] = str(free_space)  # size of the next OTA partition, bytes
    headers["x-ESP32-sketch-size"] = str(sketch_size)
    if sketch_md5:  # sent only when ESP.getSketchMD5() is non-empty; lower-case hex
        headers["x-ESP32-sketch-md5"] = sketch_md5
    if sketch_sha256:  # getSketchSHA256(): esp_partition_get_sha256 of the running partition, UPPER-case hex
        headers["x-ESP32-sketch-sha256"] = sketch_sha256.upper()
    headers["x-ESP32-chip-size"] = str(chip_size)  # ESP.getFlashChipSize(), bytes
    headers["x-ESP32-sdk-version"] = sdk_version  # ESP.getSdkVersion() = esp-idf version string
    headers["x-ESP32-mode"] = mode
    if version:  # only when the sketch passes a non-empty currentVersion
        headers["x-ESP32-version"] = version
    return headers


def esp_https_ota_headers(
    *,
    user_agent: str | None = None,
    byte_range: str | None = None,
) -> dict[str, str]:
    """espressif/esp-idf components/esp_http_client/esp_http_client.c, esp_http_client_init (esp_https_ota)."""
    # No identity at all: only User-Agent (and Host). esp_https_ota adds "Range" itself when
    # partial_http_download or ota_resumption is on; anything else comes from the app (http_client_init_cb).
    headers = {"User-Agent": user_agent if user_agent is not None else ESP_HTTP_CLIENT_USER_AGENT}
    if byte_range is not None:
        headers["Range"] = byte_range
    return headers


def esp_https_ota_partial_requests(
    image_size: int,
    max_http_request_size: int = ESP_HTTPS_OTA_DEFAULT_MAX_HTTP_REQUEST_SIZE,
) -> list[tuple[str, str | None]]:
    """espressif/esp-idf components/esp_https_ota/src/esp_https_ota.c, esp_https_ota_begin/_perform (partial)."""
    # A HEAD first (its Content-Length is the image size), then GETs. The first GET carries a Range only
    # when the image is larger than one request; later ones ask for the next slice, open-ended at the end.
    # Assumes each answer delivers exactly the bytes asked for (a 206 with that Content-Length).
    requests: list[tuple[str, str | None]] = [("HEAD", None)]
    if image_size <= max_http_request_size:
        requests.append(("GET", None))
        return requests
    requests.append(("GET", f"bytes=0-{max_http_request_size - 1}"))
    received = max_http_request_size
    while received < image_size:
        if image_size - received > max_http_request_size:
            requests.append(("GET", f"bytes={received}-{received + max_http_request_size - 1}"))
            received += max_http_request_size
        else:
            requests.append(("GET", f"bytes={received}-"))
            received = image_size
    return requests


def esp8266_softap_mac(sta_mac: str) -> str:
    """The ESP8266 soft-AP MAC as seen in captures: the STA MAC with the locally-administered bit (0x02) set."""
    try:
        first = int(sta_mac[:2], 16) | 0x02
    except ValueError:
        return sta_mac  # a deliberately malformed MAC in a test: leave it alone
    return f"{first:02X}{sta_mac[2:]}"


def esp32_softap_mac(sta_mac: str) -> str:
    """esp-idf esp_read_mac(ESP_MAC_WIFI_SOFTAP) on four-universal-MAC chips (classic ESP32): base MAC + 1."""
    try:
        value = int(sta_mac.replace(":", ""), 16)
    except ValueError:
        return sta_mac
    # Only the last octet is incremented (mac[5] += 1, wrapping within the byte).
    value = (value & ~0xFF) | ((value + 1) & 0xFF)
    raw = f"{value:012X}"
    return ":".join(raw[i : i + 2] for i in range(0, 12, 2))
