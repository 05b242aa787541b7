"""Why a station restarted, in one vocabulary for every chip: the SDK's code, refined by the firmware's word.

ESP8266 reports `rst_info.reason` (user_interface.h), the ESP32 family `esp_reset_reason_t` (esp_system.h);
the same number means different things on each, so a code is read by the station's chip. The firmware's own
`restart_cause` (free text) refines a plain software restart ("ota", "user", a connection time-out) and
stands alone when no code is sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

RestartKind = Literal["crash", "power", "planned", "other"]


@dataclass(frozen=True, slots=True)
class RestartCause:
    """A normalised restart cause: `word` from CAUSES, and whether it was a crash, power, planned or other."""

    word: str
    kind: RestartKind

    @property
    def unplanned(self) -> bool:
        """True for what nobody asked for (crashes, power, unknown): what a reboot loop is made of."""
        return self.kind != "planned"


# The whole vocabulary: each word, its kind, and what it means to the admin.
CAUSES: dict[str, tuple[RestartKind, str]] = {
    "power_on": ("power", "power was applied (first boot, or a blackout)"),
    "external_reset": ("power", "the reset pin or an external system reset"),
    "brownout": ("crash", "the supply voltage dipped below the brownout level"),
    "power_glitch": ("crash", "a glitch on the supply was detected"),
    "exception": ("crash", "the firmware crashed (exception, panic, abort or CPU lock-up)"),
    "watchdog": ("crash", "a hardware or interrupt watchdog fired: interrupts were blocked too long"),
    "task_watchdog": ("crash", "a software or task watchdog fired: the main loop stopped yielding"),
    "software": ("planned", "the firmware restarted itself and did not say why"),
    "ota": ("planned", "restarted to run newly installed firmware"),
    "user": ("planned", "restarted because someone asked (a command or a button)"),
    "connection_timeout": ("planned", "the firmware gave up on the Wi-Fi or the server and restarted"),
    "deep_sleep": ("planned", "woke from deep sleep"),
    "sdio_reset": ("other", "reset over SDIO by a host"),
    "usb_reset": ("other", "reset by the USB peripheral (e.g. a serial monitor opening the port)"),
    "jtag_reset": ("other", "reset by a JTAG debugger"),
    "efuse_error": ("crash", "reset by an eFuse error"),
    "other": ("other", "the firmware named a cause this appliance does not know"),
    "unknown": ("other", "the cause could not be determined"),
}

# ESP8266 NONOS SDK / Arduino core: enum rst_reason in user_interface.h; 252-254 are the Arduino core's
# postmortem codes (stack overflow, stack smash, software exception), which some firmware reports as they are.
ESP8266_RESET_REASONS: dict[int, str] = {
    0: "power_on",  # REASON_DEFAULT_RST
    1: "watchdog",  # REASON_WDT_RST: the hardware watchdog
    2: "exception",  # REASON_EXCEPTION_RST
    3: "task_watchdog",  # REASON_SOFT_WDT_RST: the software watchdog (loop() did not yield)
    4: "software",  # REASON_SOFT_RESTART: ESP.restart() / system_restart()
    5: "deep_sleep",  # REASON_DEEP_SLEEP_AWAKE
    6: "external_reset",  # REASON_EXT_SYS_RST
    252: "exception",  # REASON_USER_STACK_OVERFLOW
    253: "exception",  # REASON_USER_STACK_SMASH
    254: "exception",  # REASON_USER_SWEXCEPTION_RST
}

# ESP-IDF esp_reset_reason_t (esp_system.h), in declaration order; 11-15 arrived with newer chips and IDF 5.
ESP32_RESET_REASONS: dict[int, str] = {
    0: "unknown",  # ESP_RST_UNKNOWN
    1: "power_on",  # ESP_RST_POWERON
    2: "external_reset",  # ESP_RST_EXT
    3: "software",  # ESP_RST_SW: esp_restart()
    4: "exception",  # ESP_RST_PANIC
    5: "watchdog",  # ESP_RST_INT_WDT
    6: "task_watchdog",  # ESP_RST_TASK_WDT
    7: "watchdog",  # ESP_RST_WDT: the RTC and main watchdogs
    8: "deep_sleep",  # ESP_RST_DEEPSLEEP
    9: "brownout",  # ESP_RST_BROWNOUT
    10: "sdio_reset",  # ESP_RST_SDIO
    11: "usb_reset",  # ESP_RST_USB
    12: "jtag_reset",  # ESP_RST_JTAG
    13: "efuse_error",  # ESP_RST_EFUSE
    14: "power_glitch",  # ESP_RST_PWR_GLITCH
    15: "exception",  # ESP_RST_CPU_LOCKUP (a double exception)
}

# Words firmware commonly reports, keyed by their squashed form (lower case, letters and digits only):
# the vocabulary itself, the SDK enum names, ESP8266 ESP.getResetReason(), the ESP32 ROM's
# rtc_get_reset_reason() names, and what sketches write for themselves (the forum thread's list among them).
_WORDS: dict[str, str] = {
    **{re.sub(r"[^a-z0-9]", "", word): word for word in CAUSES},
    # ESP8266 enum and ESP.getResetReason()
    "reasondefaultrst": "power_on",
    "reasonwdtrst": "watchdog",
    "reasonexceptionrst": "exception",
    "reasonsoftwdtrst": "task_watchdog",
    "reasonsoftrestart": "software",
    "reasondeepsleepawake": "deep_sleep",
    "reasonextsysrst": "external_reset",
    "hardwarewatchdog": "watchdog",
    "softwarewatchdog": "task_watchdog",
    "softwaresystemrestart": "software",
    "deepsleepwake": "deep_sleep",
    "externalsystem": "external_reset",
    # ESP-IDF enum
    "esprstunknown": "unknown",
    "esprstpoweron": "power_on",
    "esprstext": "external_reset",
    "esprstsw": "software",
    "esprstpanic": "exception",
    "esprstintwdt": "watchdog",
    "esprsttaskwdt": "task_watchdog",
    "esprstwdt": "watchdog",
    "esprstdeepsleep": "deep_sleep",
    "esprstbrownout": "brownout",
    "esprstsdio": "sdio_reset",
    "esprstusb": "usb_reset",
    "esprstjtag": "jtag_reset",
    "esprstefuse": "efuse_error",
    "esprstpwrglitch": "power_glitch",
    "esprstcpulockup": "exception",
    # ESP32 ROM reset reasons, as the Arduino ResetReason example prints them
    "poweronreset": "power_on",
    "swreset": "software",
    "owdtreset": "watchdog",
    "deepsleepreset": "deep_sleep",
    "sdioreset": "sdio_reset",
    "tg0wdtsysreset": "watchdog",
    "tg1wdtsysreset": "watchdog",
    "rtcwdtsysreset": "watchdog",
    "tgwdtcpureset": "watchdog",
    "swcpureset": "software",
    "rtcwdtcpureset": "watchdog",
    "extcpureset": "external_reset",
    "rtcwdtbrownoutreset": "brownout",
    "rtcwdtrtcreset": "watchdog",
    # plain words
    "poweron": "power_on",
    "powerup": "power_on",
    "blackout": "power_on",
    "unknownblackout": "power_on",
    "coldboot": "power_on",
    "wdt": "watchdog",
    "hwwdt": "watchdog",
    "interruptwatchdog": "watchdog",
    "swwdt": "task_watchdog",
    "softwdt": "task_watchdog",
    "taskwdt": "task_watchdog",
    "panic": "exception",
    "crash": "exception",
    "abort": "exception",
    "brownoutreset": "brownout",
    "deepsleep": "deep_sleep",
    "wakeup": "deep_sleep",
    "restart": "software",
    "reset": "software",
    "softreset": "software",
    "softwarerestart": "software",
    "external": "external_reset",
    "resetbutton": "external_reset",
    "ota": "ota",
    "httpota": "ota",
    "otaupdate": "ota",
    "update": "ota",
    "firmwareupdate": "ota",
    "restartedbyperforminghttpota": "ota",
    "userrestart": "user",
    "restartedbyuser": "user",
    "reboot": "user",
    "command": "user",
    "manual": "user",
    "timeout": "connection_timeout",
    "wifitimeout": "connection_timeout",
    "servertimeout": "connection_timeout",
    "wifiserverconnectiontimeout": "connection_timeout",
    "connectiontimeout": "connection_timeout",
    "nowifi": "connection_timeout",
    "wifilost": "connection_timeout",
    "mqtttimeout": "connection_timeout",
}
# Codes that say only "the firmware restarted itself": the firmware's word may say why.
_REFINABLE = ("software", "unknown")


def word_for_code(chip: str | None, reset_reason: int) -> str | None:
    """The vocabulary word for an SDK reset code on `chip`, or None when the chip is unknown."""
    if chip is None:
        return None
    table = ESP8266_RESET_REASONS if chip == "esp8266" else ESP32_RESET_REASONS
    return table.get(reset_reason, "unknown")


def word_for_text(text: str) -> str:
    """The vocabulary word for what firmware wrote as its restart cause ("other" if not recognised)."""
    return _WORDS.get(re.sub(r"[^a-z0-9]", "", text.lower()), "other")


def normalise_restart(chip: str | None, reset_reason: int | None, firmware_cause: str | None) -> RestartCause:
    """The one cause for a restart: the SDK's code read by chip, refined or replaced by the firmware's word."""
    from_code = None if reset_reason is None else word_for_code(chip, reset_reason)
    from_text = None if not firmware_cause else word_for_text(firmware_cause)
    if from_code is not None and from_code not in _REFINABLE:
        word = from_code  # the hardware saw it happen: a stale word left in RTC memory must not hide a crash
    elif from_text is not None and from_text not in ("other", "unknown"):
        word = from_text
    elif from_code is not None:
        word = from_code
    else:
        word = from_text or "unknown"
    return RestartCause(word, CAUSES[word][0])
