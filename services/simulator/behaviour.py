"""How a simulated station strays from healthy firmware, for tests of what the appliance makes of it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Behaviour:
    """One station's quirks; the default is a healthy station."""

    offline: bool = False  # powered off or out of range: it sends nothing while this holds
    fail_download_at: float | None = None  # drop the link once this fraction of the next image has arrived
    crash_after_update: bool = False  # the firmware it updates to keeps restarting by watchdog
    report_old_version: bool = False  # the new firmware was built still calling itself the old version
    stop_download_at: float | None = None  # drop the link at this fraction of the next image and never ask again
    boots_old_image: bool = False  # the new image does not boot: the bootloader falls back to the old one
    dead_after_update: bool = False  # installs the next image, says so, and is never heard from again
    signal_dbm: int | None = None  # its signal hovers around this (e.g. -85: a weak link) instead of wandering
    free_heap: int | None = None  # reports this much free heap (e.g. 6000: too little to take an update)
    no_ota_client: bool = False  # its firmware has no update client: it checks in but never polls /ota
    # Its sketch has nothing but the core's stock update client (STA1 in the forum thread): it polls /ota
    # with no currentVersion, never checks in and reports nothing.
    stock_only: bool = False
    # Firmware older than the station key: it proves nothing but its MAC (no token after being claimed).
    no_station_key: bool = False


HEALTHY = Behaviour()
