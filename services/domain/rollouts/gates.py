"""Delivery rules: when a station may be offered an image (signal, heap, role, the access point's load)."""

from __future__ import annotations

import re
import time

from services.core.errors import InvalidInput
from services.core.rollout_model import RolloutSettings, StationFacts

CRITICAL_TAG = "critical"
_WINDOW = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-3]):([0-5]\d)")


def parse_window(text: str) -> str:
    """A maintenance window 'HH:MM-HH:MM' in the appliance's local time (it may wrap past midnight)."""
    match = _WINDOW.fullmatch(text.strip())
    if match is None:
        raise InvalidInput(f"a maintenance window is 'HH:MM-HH:MM', e.g. '02:00-04:00', got {text[:40]!r}")
    start_h, start_m, end_h, end_m = (int(g) for g in match.groups())
    if (start_h, start_m) == (end_h, end_m):
        raise InvalidInput("a maintenance window must not start and end at the same minute")
    return f"{start_h:02d}:{start_m:02d}-{end_h:02d}:{end_m:02d}"


def in_window(window: str | None, now: float) -> bool:
    """True when `now` (UNIX time) falls inside the window, in local time."""
    if not window:
        return False
    start_text, end_text = window.split("-")
    start = _minutes(start_text)
    end = _minutes(end_text)
    local = time.localtime(now)
    minute = local.tm_hour * 60 + local.tm_min
    return start <= minute < end if start < end else minute >= start or minute < end


def critical_hold(tags: tuple[str, ...], *, approved: bool, window: str | None, now: float) -> str | None:
    """Why a critical station may not be updated or rebooted now, or None when it may."""
    if CRITICAL_TAG not in tags or approved or in_window(window, now):
        return None
    where = f" or the maintenance window {window}" if window else ""
    return f"critical: waits for the admin's approval{where}"


def hold_reason(station: StationFacts, settings: RolloutSettings, *, approved: bool, now: float) -> str | None:
    """Why the station may not be offered the image now (role, signal, heap), or None when it may."""
    critical = critical_hold(station.tags, approved=approved, window=settings.maintenance_window, now=now)
    if critical is not None:
        return critical
    if station.recent_rssi is not None and station.recent_rssi < settings.min_rssi:
        return f"weak signal: {station.recent_rssi:.0f} dBm lately, below the {settings.min_rssi} dBm an update needs"
    if station.free_heap is not None and station.free_heap < settings.min_free_heap:
        return f"low memory: {station.free_heap:,} bytes of free heap, below the {settings.min_free_heap:,} needed"
    return None


def ap_busy(open_downloads: int, settings: RolloutSettings, bssid: str | None) -> str | None:
    """Why the station must wait for its access point, or None when a download slot is free."""
    if bssid is None or open_downloads < settings.downloads_per_ap:
        return None
    return f"waits for a download slot on access point {bssid} ({open_downloads} downloads running)"


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)
