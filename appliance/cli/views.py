"""How each admin answer looks to a person: aligned tables and one-line summaries on stdout."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any, cast

from appliance.contract.ages import ago
from appliance.contract.clock import synchronised
from appliance.contract.shapes import Assignment, Event, Image, Station, Status

JSON = dict[str, Any]


def status(info: Status, _: argparse.Namespace) -> None:
    """Version, uptime, where stations reach it, how many stations are in each state; then its clock."""
    counts = ", ".join(f"{n} {state}" for state, n in sorted(info.get("counts", {}).items()) if n) or "no stations yet"
    where = info.get("station_url") or f"port {info.get('station_port')}"
    print(
        f"Stationmaster {info['version']} is running (up {duration(info['uptime_s'])}), stations at {where}: {counts}"
    )
    print(clock_line(info))


def clock_line(info: Status) -> str:
    """Whether the service's clock is synchronised, what it says, and its last step."""
    clock = info.get("clock") or {}
    says = f", it says {timestamp(clock['says'])}" if clock.get("says") is not None else ""
    line = {
        True: f"Clock: synchronised{says}",
        False: f"Clock: NOT synchronised{says}: no history is deleted by age until it is (`stationmaster doctor`)",
        None: f"Clock: cannot tell whether it is synchronised{says}",
    }[synchronised(info)]
    step = clock.get("last_step")
    if step:
        way = "forward" if step["size_s"] > 0 else "back"
        line += f"; it stepped {way} by {duration(abs(step['size_s']))} at {timestamp(step['at'])}"
    return line


def stations(answer: JSON, _: argparse.Namespace) -> None:
    """The station list."""
    found: list[Station] = answer["stations"]
    if not found:
        print("no stations yet: they appear here when they first check in")
        return
    headers = ["NAME", "MAC", "STATUS", "CHIP", "VERSION", "RSSI", "LAST SEEN", "IP"]
    table(headers, [_station_row(s) for s in found])


def station(found: JSON, _: argparse.Namespace) -> None:
    """One station, a field a line."""
    for key, value in found.items():
        if key in ("created_at", "last_seen_at", "key_pinned_at"):
            shown = f"{timestamp(value)} ({relative(value)})" if value is not None else "never"
        else:
            shown = _plain(value)
        print(f"{key:<18} {shown}")


def deleted_station(found: Station, _: argparse.Namespace) -> None:
    """What deleting a station did."""
    print(f"deleted {found['name']} ({found['mac']}) with its history; your own events about it are kept")


def images(answer: JSON, _: argparse.Namespace) -> None:
    """The firmware library."""
    found: list[Image] = answer["images"]
    if not found:
        print("no firmware yet: add some with `stationmaster firmware import FILE`")
        return
    rows = [
        [i["sha256"][:12], i["chip"], i["project"] or "-", i["version"] or "-", f"{i['size']:,}", i["filename"]]
        for i in found
    ]
    table(["SHA-256", "CHIP", "PROJECT", "VERSION", "SIZE", "FILE"], rows)


def image(found: JSON, _: argparse.Namespace) -> None:
    """One image, a field a line."""
    for key, value in found.items():
        print(f"{key:<12} {timestamp(value) if key == 'imported_at' else _plain(value)}")


def imported(found: Image, _: argparse.Namespace) -> None:
    """What an import stored."""
    print(f"imported {found['sha256'][:12]}  {found['chip']}  {found['project'] or '-'} {found['version'] or '-'}")


def assigned(found: Assignment, _: argparse.Namespace) -> None:
    """What an assignment did."""
    print(f"assignment {found['id']}: {found['sha256'][:12]} to {_target(found)}")


def assignments(answer: JSON, _: argparse.Namespace) -> None:
    """Every assignment."""
    found: list[Assignment] = answer["assignments"]
    if not found:
        print("no assignments: every station keeps the firmware it runs")
        return
    table(
        ["ID", "IMAGE", "TARGET", "SINCE"],
        [[str(a["id"]), a["sha256"][:12], _target(a), relative(a["created_at"])] for a in found],
    )


def lan(answer: JSON, _: argparse.Namespace) -> None:
    """What mDNS shows on the site's LAN."""
    found = answer["services"]
    rows = [
        [
            s["host"] or "-",
            s["address"] or "-",
            str(s["port"] or "-"),
            s["type"].removesuffix(".local."),
            s["board"] or "-",
            s["station"] or "-",
        ]
        for s in found
    ]
    table(["HOST", "ADDRESS", "PORT", "SERVICE", "BOARD", "STATION"], rows)


def pushed(result: JSON, _: argparse.Namespace) -> None:
    """A finished LAN push."""
    how = f", password checked by {result['auth_scheme']}" if result.get("auth_scheme") else ""
    print(f"pushed {result['size']:,} bytes to {result['address']}:{result['port']} (md5 {result['md5']}{how})")


def events(answer: JSON, _: argparse.Namespace) -> None:
    """Stored events, oldest first so the newest ends up next to the prompt."""
    listed: list[Event] = answer["events"]
    for event in reversed(listed):
        print(event_line(event))


def follow(event: JSON, args: argparse.Namespace) -> None:
    """Print one event as it happens: a line for people, a JSON object a line with --json."""
    print(json.dumps(event, sort_keys=True) if args.json else event_line(cast(Event, event)), flush=True)


def event_line(event: Event) -> str:
    """An event as one log line."""
    return f"{timestamp(event['at'])}  {event['kind']:<20} {event.get('message') or ''}".rstrip()


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print rows under headers in aligned columns."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    for row in [list(headers), *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def relative(at: float | None, now: float | None = None) -> str:
    """A time as '12 s ago', '5 min ago', '3 h ago', '2 d ago', or 'never'."""
    return ago(at, now)


def duration(seconds: float) -> str:
    """A span as '45 s', '12 min', '5.2 h' or '3.1 d'."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def timestamp(at: float) -> str:
    """A Unix time in the admin's local time."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def same_mac(a: object, b: object) -> bool:
    """Whether two MAC spellings (any case, ':' '-' or none) name the same station."""
    return isinstance(a, str) and isinstance(b, str) and _hex(a) == _hex(b)


def _station_row(s: Station) -> list[str]:
    version = s["version"] or "-"
    # A station behind its assignment shows where it is heading.
    if s.get("assigned_version") and s["assigned_version"] != s["version"]:
        version += f" → {s['assigned_version']}"
    return [
        s["name"] or "-",
        s["mac"],
        s["status"],
        s["chip"] or "?",
        version,
        "-" if s["rssi"] is None else f"{s['rssi']} dBm",
        relative(s["last_seen_at"]),
        s["ip"] or "-",
    ]


def _target(assignment: Assignment) -> str:
    return f"station {assignment['mac']}" if assignment.get("mac") else f"tag {assignment['tag']}"


def _plain(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "-"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _hex(mac: str) -> str:
    return "".join(c for c in mac.lower() if c in "0123456789abcdef")
