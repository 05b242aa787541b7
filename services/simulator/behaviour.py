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


HEALTHY = Behaviour()
