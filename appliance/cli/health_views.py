"""How commands, alerts, restarts and history look to a person on stdout."""

from __future__ import annotations

import argparse
from typing import Any

from appliance.cli.views import relative, table, timestamp
from appliance.contract.shapes import Alert, Command, Restart, Rollup

JSON = dict[str, Any]


def commands(answer: JSON, _: argparse.Namespace) -> None:
    """The command list."""
    found: list[Command] = answer["commands"]
    if not found:
        print("no commands: send one with `stationmaster command send MAC KIND`")
        return
    rows = [
        [str(c["id"]), c["mac"], c["kind"], _args(c["args"]), c["state"], relative(c["created_at"]), c["result"] or ""]
        for c in found
    ]
    table(["ID", "STATION", "KIND", "ARGS", "STATE", "QUEUED", "RESULT"], rows)


def command(found: JSON, _: argparse.Namespace) -> None:
    """One command, a field a line."""
    for key, value in found.items():
        if key.endswith("_at"):
            shown = "-" if value is None else f"{timestamp(value)} ({relative(value)})"
        elif key == "args":
            shown = _args(value) or "-"
        else:
            shown = "-" if value is None else str(value)
        print(f"{key:<13} {shown}")


def sent(found: Command, _: argparse.Namespace) -> None:
    """What sending queued."""
    print(
        f"command {found['id']} ({found['kind']}) queued for {found['mac']}:"
        f" delivered at its next check-in, expires {timestamp(found['expires_at'])}"
    )


def alerts(answer: JSON, _: argparse.Namespace) -> None:
    """Alerts, newest first."""
    found: list[Alert] = answer["alerts"]
    if not found:
        print("no alerts: every station is well")
        return
    rows = [
        [
            str(a["id"]),
            a["kind"],
            a["mac"] or "-",
            relative(a["raised_at"]),
            "open" if a["cleared_at"] is None else f"cleared {relative(a['cleared_at'])}",
            a["message"],
        ]
        for a in found
    ]
    table(["ID", "KIND", "STATION", "RAISED", "STATE", "MESSAGE"], rows)


def cleared(found: Alert, _: argparse.Namespace) -> None:
    """A dismissed alert."""
    print(f"alert {found['id']} ({found['kind']}) cleared: {found['cleared_message']}")


def restarts(answer: JSON, _: argparse.Namespace) -> None:
    """A station's restarts, newest first."""
    found: list[Restart] = answer["restarts"]
    if not found:
        print("no restarts seen")
        return
    rows = [
        [
            timestamp(r["at"]),
            r["cause"],
            r["kind"],
            "-" if r["reset_reason"] is None else str(r["reset_reason"]),
            r["firmware_cause"] or "-",
            r["version"] or "-",
            "-" if r["uptime_before"] is None else f"{r['uptime_before']} s",
        ]
        for r in found
    ]
    table(["WHEN", "CAUSE", "KIND", "CODE", "FIRMWARE SAID", "VERSION", "UP BEFORE"], rows)


def history(answer: JSON, _: argparse.Namespace) -> None:
    """A station's summarised history, newest first."""
    found: list[Rollup] = answer["rollups"]
    if not found:
        print("no summaries yet: samples are summarised once they are older than the raw retention")
        return
    rows = [
        [
            timestamp(r["start"]),
            str(r["samples"]),
            _dbm(r["rssi_min"]),
            "-" if r["rssi_avg"] is None else f"{r['rssi_avg']:.0f}",
            _dbm(r["rssi_max"]),
            "-" if r["heap_min"] is None else f"{r['heap_min']:,}",
            "-" if r["uptime_max"] is None else f"{r['uptime_max']:,} s",
            r["version"] or "-",
        ]
        for r in found
    ]
    table(["FROM", "SAMPLES", "RSSI MIN", "AVG", "MAX", "HEAP MIN", "UPTIME MAX", "VERSION"], rows)


def _args(args: JSON) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(args.items()))


def _dbm(value: int | None) -> str:
    return "-" if value is None else f"{value}"
