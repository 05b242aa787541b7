"""Rolling a rollout back: which stations are offered their previous image again, and which need not be."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.core.models import Station
from services.core.rollout_model import RolloutSettings, RolloutStation

# Everything the forward run learnt about a download, cleared for the way back.
_FRESH: dict[str, Any] = {
    "first_poll_at": None,
    "last_answer": None,
    "download_started_at": None,
    "downloaded_at": None,
    "reached": None,
    "came_back_at": None,
    "soak_until": None,
    "finished_at": None,
    "hold": None,
    "outcome": None,
}


def plan_rollback(
    rows: list[RolloutStation],
    stations: Mapping[str, Station],
    found: Mapping[str, str | None],
    settings: RolloutSettings,
    now: float,
) -> dict[str, dict[str, Any]]:
    """The changes to each station's row: offered its previous image, already back, or impossible to roll back.

    A station the rollout never reached (queued) is left alone. One that failed or was still on its way while
    still running its previous version needs nothing. Every other one (updated, soaking, downloaded, crash
    looping, or gone silent, which may have taken the image) is offered its previous image again.
    """
    plan: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row.state == "queued" or row.direction == "back":
            continue
        station = stations.get(row.mac)
        running = station.version if station is not None else None
        on_previous = running is not None and running == row.previous_version
        if on_previous and row.state == "failed":
            continue
        if on_previous and row.state in ("initiated", "downloading"):
            plan[row.mac] = {
                "state": "rolled_back",
                "outcome": "rolled_back",
                "reason": f"was still on {running} when the rollout was rolled back",
                "finished_at": now,
            }
            continue
        previous = row.previous_sha256 or found.get(row.mac)
        if previous is None:
            plan[row.mac] = {
                "state": "failed",
                "outcome": "no_previous_image",
                "reason": f"cannot roll back: no image of {row.previous_version or 'the version it ran'} is in the"
                " library (import it, then roll back again)",
                "finished_at": now,
            }
            continue
        plan[row.mac] = {
            **_FRESH,
            "direction": "back",
            "state": "initiated",
            "previous_sha256": previous,
            "initiated_at": now,
            "deadline_at": now + settings.timeout_s,
            "reason": "offered its previous image again",
        }
    return plan
