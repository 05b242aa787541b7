"""Restart causes read the same on both chip families, code by code, and the firmware's word refines them."""

from __future__ import annotations

import aiohttp
import pytest

from appliance.contract.client import AdminClient
from services.domain.health.resets import CAUSES, ESP32_RESET_REASONS, ESP8266_RESET_REASONS, normalise_restart

# (what happened, ESP8266 rst_info.reason, ESP32 esp_reset_reason_t, the word both must map to)
SHARED = [
    ("power applied", 0, 1, "power_on"),  # REASON_DEFAULT_RST / ESP_RST_POWERON
    ("hardware watchdog", 1, 7, "watchdog"),  # REASON_WDT_RST / ESP_RST_WDT
    ("crash", 2, 4, "exception"),  # REASON_EXCEPTION_RST / ESP_RST_PANIC
    ("loop did not yield", 3, 6, "task_watchdog"),  # REASON_SOFT_WDT_RST / ESP_RST_TASK_WDT
    ("restart by the sketch", 4, 3, "software"),  # REASON_SOFT_RESTART / ESP_RST_SW
    ("deep-sleep wake", 5, 8, "deep_sleep"),  # REASON_DEEP_SLEEP_AWAKE / ESP_RST_DEEPSLEEP
    ("reset pin", 6, 2, "external_reset"),  # REASON_EXT_SYS_RST / ESP_RST_EXT
]
ESP32_ONLY = [
    (0, "unknown"),  # ESP_RST_UNKNOWN
    (5, "watchdog"),  # ESP_RST_INT_WDT
    (9, "brownout"),  # ESP_RST_BROWNOUT
    (10, "sdio_reset"),  # ESP_RST_SDIO
    (11, "usb_reset"),  # ESP_RST_USB
    (12, "jtag_reset"),  # ESP_RST_JTAG
    (13, "efuse_error"),  # ESP_RST_EFUSE
    (14, "power_glitch"),  # ESP_RST_PWR_GLITCH
    (15, "exception"),  # ESP_RST_CPU_LOCKUP
]


@pytest.mark.parametrize(("what", "esp8266", "esp32", "word"), SHARED, ids=[s[0] for s in SHARED])
def test_both_families_name_the_same_event_with_the_same_word(what: str, esp8266: int, esp32: int, word: str) -> None:
    assert normalise_restart("esp8266", esp8266, None).word == word
    for chip in ("esp32", "esp32c3", "esp32s3", "esp32c6"):
        assert normalise_restart(chip, esp32, None).word == word, chip


@pytest.mark.parametrize(("code", "word"), ESP32_ONLY)
def test_the_newer_esp32_reasons_have_their_own_words(code: int, word: str) -> None:
    assert normalise_restart("esp32s3", code, None).word == word


def test_every_code_of_both_tables_is_covered_and_maps_into_the_vocabulary() -> None:
    tested_8266 = {s[1] for s in SHARED} | {252, 253, 254}
    tested_32 = {s[2] for s in SHARED} | {code for code, _ in ESP32_ONLY}
    assert set(ESP8266_RESET_REASONS) == tested_8266
    assert set(ESP32_RESET_REASONS) == tested_32 == set(range(16))
    assert set(ESP8266_RESET_REASONS.values()) | set(ESP32_RESET_REASONS.values()) <= set(CAUSES)
    for code in (252, 253, 254):  # the Arduino core's postmortem codes: a crash
        assert normalise_restart("esp8266", code, None).word == "exception"


def test_the_same_number_means_different_things_per_chip() -> None:
    assert normalise_restart("esp8266", 1, None).word == "watchdog"
    assert normalise_restart("esp32", 1, None).word == "power_on"
    assert normalise_restart(None, 1, None).word == "unknown", "a code without a chip is not guessed"
    assert normalise_restart("esp32", 99, None).word == "unknown"


@pytest.mark.parametrize(
    ("chip", "code", "said", "word"),
    [
        ("esp8266", 4, "ota", "ota"),  # ESP.restart() after Update: the firmware says why
        ("esp32", 3, "restarted by performing http OTA", "ota"),
        ("esp32", 3, "user", "user"),
        ("esp8266", 4, "wifi / server connection timeout", "connection_timeout"),
        ("esp32", 0, "Hardware Watchdog", "watchdog"),  # ESP_RST_UNKNOWN refined by the word
        ("esp8266", 1, "ota", "watchdog"),  # a stale word left in RTC memory never hides a crash
        ("esp32", 9, "user", "brownout"),
        ("esp8266", 4, "something of its own", "software"),
    ],
)
def test_the_firmwares_word_refines_a_software_restart_only(chip: str, code: int, said: str, word: str) -> None:
    assert normalise_restart(chip, code, said).word == word


@pytest.mark.parametrize(
    ("said", "word"),
    [
        ("Power On", "power_on"),  # ESP8266 ESP.getResetReason()
        ("Hardware Watchdog", "watchdog"),
        ("Exception", "exception"),
        ("Software Watchdog", "task_watchdog"),
        ("Software/System restart", "software"),
        ("Deep-Sleep Wake", "deep_sleep"),
        ("External System", "external_reset"),
        ("ESP_RST_BROWNOUT", "brownout"),  # the ESP-IDF enum's names
        ("ESP_RST_TASK_WDT", "task_watchdog"),
        ("REASON_SOFT_WDT_RST", "task_watchdog"),
        ("TG1WDT_SYS_RESET", "watchdog"),  # the ESP32 ROM's names
        ("POWERON_RESET", "power_on"),
        ("unknown / blackout", "power_on"),  # the forum thread's own list
        ("restarted by user", "user"),
        ("watchdog", "watchdog"),
        ("no idea what this is", "other"),
    ],
)
def test_common_words_map_without_a_code(said: str, word: str) -> None:
    assert normalise_restart("esp32", None, said).word == word


def test_only_asked_for_restarts_are_planned() -> None:
    planned = {word for word, (kind, _) in CAUSES.items() if kind == "planned"}
    assert planned == {"software", "ota", "user", "connection_timeout", "deep_sleep"}
    assert normalise_restart("esp32", 6, None).unplanned
    assert not normalise_restart("esp8266", 4, "ota").unplanned


async def _check_in(http: aiohttp.ClientSession, body: dict[str, object]) -> None:
    async with http.post("/api/v1/checkin", json=body) as response:
        assert response.status == 200, await response.text()


async def test_an_esp8266_and_an_esp32_watchdog_read_the_same_to_the_admin(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    stations = {"5C:CF:7F:00:00:01": ("esp8266", 1), "24:0A:C4:00:00:01": ("esp32", 7)}
    for mac, (chip, code) in stations.items():
        power_on = 0 if chip == "esp8266" else 1
        await _check_in(http, {"mac": mac, "chip": chip, "uptime_s": 500, "reset_reason": power_on})
        await _check_in(http, {"mac": mac, "chip": chip, "uptime_s": 3, "reset_reason": code, "restart_cause": "boot"})
    for mac in stations:
        restarts = await admin.restarts(mac)
        assert [(r["cause"], r["kind"]) for r in restarts] == [("watchdog", "crash")]
        assert restarts[0]["firmware_cause"] == "boot", "what the firmware said is kept beside the verdict"
        assert restarts[0]["uptime_before"] == 500
        station = await admin.station(mac)
        assert station["restart"] == "watchdog"
    events = await admin.events(kind="station_restarted")
    assert {e["data"]["cause"] for e in events} == {"watchdog"}
