"""The status line: station counts by state, where the service answers, its uptime, its clock and version."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from appliance import __version__
from appliance.contract.clock import synchronised

# Worst news first: on an 80-column terminal the end of the line is what gets cut.
_STATE_ORDER = ("online", "late", "offline", "awaiting", "pending", "rejected", "retired")


def status_line(status: Mapping[str, Any], counts: Mapping[str, int], alerts: int, now: float) -> str:
    """One line from the service's status, the stations table's counts and the number of open alerts.

    `now` is the service's time (its status tells it), so that the uptime is on the clock it started on.
    """
    parts = [f"{counts[state]} {state}" for state in _STATE_ORDER if counts.get(state)]
    started = status.get("started_at")
    uptime = f"up {(now - started) / 3600:.1f} h" if started else "not connected"
    mdns = status.get("mdns") or {}
    where = (
        f"{mdns.get('hostname')} ({', '.join(mdns.get('addresses') or [])})"
        if mdns.get("hostname")
        else (status.get("station_url") or "")
    )
    version = status.get("version") or __version__
    warnings = [f"{alerts} alert{'s' if alerts != 1 else ''}"] if alerts else []
    clock = synchronised(status) if started else True
    if clock is False:
        warnings.insert(0, "clock not synchronised")  # ages and stamps may be off until NTP sets it
    warning = f"⚠ {' · '.join(warnings)} · " if warnings else ""
    told = {True: "clock synced", False: "", None: "clock sync unknown"}[clock] if started else ""
    tail = " · ".join(part for part in (where, uptime, told, f"v{version}") if part)
    return f"{warning}{' · '.join(parts) or 'no stations'} · {tail}"
