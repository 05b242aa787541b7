"""Plain-text tables and lines for the admin commands."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print rows under headers in aligned columns."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    for row in [list(headers), *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def station_rows(stations: Sequence[dict[str, Any]]) -> list[list[str]]:
    """One table row per station."""
    return [
        [
            s["name"],
            s["mac"],
            s["status"],
            s["chip"] or "?",
            (s["version"] or "-") + (f" → {s['assigned_version']}" if _behind(s) else ""),
            "-" if s["rssi"] is None else f"{s['rssi']} dBm",
            relative(s["last_seen_at"]),
            s["ip"] or "-",
        ]
        for s in stations
    ]


def image_rows(images: Sequence[dict[str, Any]]) -> list[list[str]]:
    """One table row per image."""
    return [
        [
            i["sha256"][:12],
            i["chip"],
            i["project"] or "-",
            i["version"] or "-",
            f"{i['size']:,}",
            i["filename"],
        ]
        for i in images
    ]


def station_detail(station: dict[str, Any]) -> str:
    """A station in full, one field a line."""
    lines = [f"{key:<18} {value}" for key, value in station.items() if key not in ("settings",)]
    lines.append(f"{'last seen':<18} {relative(station.get('last_seen_at'))}")
    return "\n".join(lines)


def event_line(event: dict[str, Any]) -> str:
    """An event as one log line."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event["at"]))
    return f"{stamp}  {event['kind']:<20} {event.get('message', '')}"


def relative(at: float | None, now: float | None = None) -> str:
    """A time as '12 s ago', '5 min ago', '3 h ago', '2 d ago', or 'never'."""
    if at is None:
        return "never"
    age = max(0.0, (time.time() if now is None else now) - at)
    for limit, unit, size in ((60, "s", 1), (3600, "min", 60), (86400, "h", 3600)):
        if age < limit:
            return f"{int(age // size)} {unit} ago"
    return f"{int(age // 86400)} d ago"


def _behind(station: dict[str, Any]) -> bool:
    return bool(station.get("assigned_version")) and station["assigned_version"] != station["version"]
