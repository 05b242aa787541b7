"""A simulated station's OTA poll carries exactly the headers of the stock clients, as their sources write them."""

from __future__ import annotations

import hashlib

from services.simulator.otaclient import (
    ESP32_SDK_VERSION,
    ESP8266_SDK_VERSION,
    RunningSketch,
    running_sketch_after,
    stock_headers,
)
from tests.imagefactory import build_image
from tests.stock_clients import esp32_httpupdate_headers, esp8266_httpupdate_headers

MAC = "5C:CF:7F:0A:1B:2C"


def sketch(chip: str) -> RunningSketch:
    """A running sketch as a stock client would describe it."""
    sha256 = None if chip == "esp8266" else "ab" * 32
    return RunningSketch(chip=chip, sta_mac=MAC, size=345_678, md5="0f" * 16, free_space=1_740_800, sha256=sha256)


def test_an_esp8266_polls_as_esp8266httpupdate_does() -> None:
    headers = stock_headers(sketch("esp8266"), "1.2.3")
    assert headers.pop("Connection") == "close", "useHTTP10(true): one connection per poll"
    assert headers == esp8266_httpupdate_headers(
        sta_mac=MAC,
        free_space=1_740_800,
        sketch_size=345_678,
        sketch_md5="0f" * 16,
        sdk_version=ESP8266_SDK_VERSION,
        version="1.2.3",
        chip_id=0x0A1B2C,  # ESP.getChipId(): the MAC's last three octets
    )
    assert headers["x-ESP8266-AP-MAC"] == "5E:CF:7F:0A:1B:2C"


def test_an_esp32_polls_as_arduino_esp32_httpupdate_does() -> None:
    headers = stock_headers(sketch("esp32c3"), "1.2.3")
    assert headers.pop("Connection") == "close"
    assert headers == esp32_httpupdate_headers(
        sta_mac=MAC,
        free_space=1_740_800,
        sketch_size=345_678,
        sketch_md5="0f" * 16,
        sketch_sha256="AB" * 32,
        sdk_version=ESP32_SDK_VERSION,
        version="1.2.3",
        core=2,
    )
    assert headers["x-ESP32-AP-MAC"] == "5C:CF:7F:0A:1B:2D", "esp_read_mac(ESP_MAC_WIFI_SOFTAP): base MAC + 1"


def test_the_version_header_is_sent_only_when_the_sketch_passes_one() -> None:
    assert "x-ESP8266-version" not in stock_headers(sketch("esp8266"), None)
    assert "x-ESP32-version" not in stock_headers(sketch("esp32"), "")


def test_after_an_update_the_client_reports_the_new_sketch_digests() -> None:
    data = build_image("esp32", project="sim-sensor", version="2.0.0")
    after = running_sketch_after("esp32", MAC, data, free_space=1_310_720)
    assert after.md5 == hashlib.md5(data).hexdigest()
    assert after.size == len(data)
    # esp_partition_get_sha256 returns the digest appended to the image, the SHA-256 of all bytes before it.
    assert after.sha256 == hashlib.sha256(data[:-32]).hexdigest() == data[-32:].hex()
    assert running_sketch_after("esp8266", MAC, b"\xe9" * 64, free_space=1).sha256 is None
