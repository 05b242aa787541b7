"""How a station's state is told: by word and symbol as well as colour (16-colour and no-colour terminals)."""

from __future__ import annotations

import math
import time
from typing import Any

from rich.text import Text

from appliance.contract.ages import age, ago

__all__ = ["age", "ago", "coarse_age", "rssi_label", "state_label", "station_state"]

# A station is late after missing one check-in, offline after missing three.
LATE_AFTER_INTERVALS = 1.5
OFFLINE_AFTER_INTERVALS = 3.0

_LOOK = {
    "online": ("●", "green"),
    "late": ("◐", "yellow"),
    "offline": ("○", "red"),
    "pending": ("?", "cyan"),
    "awaiting": ("…", "cyan"),
    "rejected": ("✗", "magenta"),
    "retired": ("–", "bright_black"),
}


def station_state(
    station: dict[str, Any],
    poll_interval_s: float,
    now: float | None = None,
    offline_after_intervals: float = OFFLINE_AFTER_INTERVALS,
) -> str:
    """online / late / offline for accepted stations, else their status (awaiting: accepted, never seen).

    The same rule as the service's (its status gives the intervals): computed here too, as time passes.
    """
    status = str(station.get("status"))
    if status != "accepted":
        return status
    seen = station.get("last_seen_at")
    if seen is None:
        return "awaiting"
    # A stock sketch polls /ota at its own pace, which the service learns: never judge it by a faster one.
    interval = max(poll_interval_s, float(station.get("seen_period_s") or 0))
    age = (time.time() if now is None else now) - float(seen)
    if age <= interval * LATE_AFTER_INTERVALS:
        return "online"
    return "late" if age <= interval * max(offline_after_intervals, LATE_AFTER_INTERVALS) else "offline"


def coarse_age(at: float | None, fresh_s: float, now: float | None = None) -> str:
    """How long ago, in steps that change rarely: "<2 min" while on time, then minutes, hours, days.

    A live list redraws a cell only when its text changes: ages in seconds would redraw every row every
    few seconds, over a metered link, to say what the state column already says.
    """
    if at is None:
        return "-"
    seconds = max(0.0, (time.time() if now is None else now) - at)
    fresh = max(fresh_s, 60.0)
    if seconds < fresh:
        return f"<{math.ceil(fresh / 60)} min"
    return age(at, now=at + seconds)


def state_label(state: str) -> Text:
    """The state as symbol and word, coloured."""
    symbol, colour = _LOOK.get(state, ("·", "white"))
    return Text(f"{symbol} {state}", style=colour)


def rssi_label(rssi: int | None, previous: int | None) -> Text:
    """Signal with its trend arrow; weak signals stand out (the seed's crashes were below -80 dBm)."""
    if rssi is None:
        return Text("-")
    trend = "" if previous is None or previous == rssi else ("↑" if rssi > previous else "↓")
    style = "red" if rssi < -80 else ("yellow" if rssi < -70 else "")
    return Text(f"{rssi}{trend}", style=style)
