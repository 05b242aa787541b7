"""How rollouts look to a person on the command line: the list, and one rollout wave by wave, station by station."""

from __future__ import annotations

import argparse
from typing import Any

from appliance.cli.views import duration, relative, table
from appliance.contract.shapes import Rollout, RolloutStation, RolloutSummary

JSON = dict[str, Any]
# The order a person reads a rollout's counts in: where it is going, then what went wrong.
COUNT_ORDER = (
    "updated",
    "updating",
    "downloaded",
    "downloading",
    "initiated",
    "queued",
    "failed",
    "timed_out",
    "rolled_back",
)


def rollouts(answer: JSON, _: argparse.Namespace) -> None:
    """Every rollout, newest first."""
    found: list[RolloutSummary] = answer["rollouts"]
    if not found:
        print("no rollouts yet: start one with `stationmaster rollout start IMAGE`")
        return
    rows = [
        [
            str(r["id"]),
            r["name"],
            r["image"].get("chip") or "?",
            r["state"].replace("_", " "),
            f"{r['current_wave']}/{r['wave_count']}",
            counts(r["counts"]),
            relative(r["created_at"]),
        ]
        for r in found
    ]
    table(["ID", "NAME", "CHIP", "STATE", "WAVE", "STATIONS", "STARTED"], rows)


def rollout(found: Rollout, _: argparse.Namespace) -> None:
    """One rollout: a headline, its waves, then each station with what the appliance saw of it."""
    image = found["image"]
    what = " ".join(str(v) for v in (image.get("project"), image.get("version")) if v) or image["sha256"][:12]
    state = found["state"].replace("_", " ")
    named = "" if found["name"] == what else f" ({found['name']})"
    print(f"rollout {found['id']}{named}: {what} for {image.get('chip') or '?'}, {state}")
    if found.get("reason"):
        print(f"  {found['reason']}")
    settings = found["settings"]
    print(
        f"  soak {duration(settings['soak_s'])}, time-out {duration(settings['timeout_s'])}, a wave fails past"
        f" {settings['max_failures_percent']:g} %, signal at least {settings['min_rssi']} dBm,"
        f" {settings['downloads_per_ap']} download(s) per access point"
        + (f", critical stations in {settings['maintenance_window']}" if settings.get("maintenance_window") else "")
    )
    print()
    for wave in found.get("waves", []):
        print(f"  wave {wave['wave']}: {wave['state']:<12} {wave['size']} station(s): {counts(wave['counts'])}")
    stations = found.get("stations", [])
    if stations:
        print()
        table(["WAVE", "NAME", "MAC", "STATE", "WHY"], [_station_row(s) for s in stations])


def counts(by_state: JSON) -> str:
    """'12 updated, 1 failed' in reading order."""
    known = [s for s in COUNT_ORDER if by_state.get(s)]
    known += sorted(s for s in by_state if s not in COUNT_ORDER and by_state[s])
    return ", ".join(f"{by_state[s]} {s.replace('_', ' ')}" for s in known) or "none"


def _station_row(station: RolloutStation) -> list[str]:
    state = station["state"].replace("_", " ")
    if station.get("direction") == "back" and station["state"] not in ("rolled_back", "failed", "timed_out"):
        state += " (back)"
    if station.get("critical"):
        state += " ✓approved" if station.get("approved") else " (critical)"
    why = station.get("hold") if station["state"] == "queued" and station.get("hold") else station.get("reason")
    return [str(station["wave"]), station["name"], station["mac"], state, why or ""]
