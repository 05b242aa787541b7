"""Domain values in their admin-API JSON form."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from services.core.models import Assignment, Event, FirmwareImage, Station
from services.domain.clock.keeper import Timekeeper
from services.domain.health import Presence, normalise_restart, station_state


def station_json(
    station: Station, assigned: FirmwareImage | None, presence: Presence | None = None, now: float | None = None
) -> dict[str, Any]:
    """A station with the image it should run, its derived state and its last restart in the common vocabulary."""
    body = asdict(station)
    body["tags"] = list(station.tags)
    body["assigned_image"] = None if assigned is None else assigned.sha256
    body["assigned_version"] = None if assigned is None else assigned.version
    if presence is not None and now is not None:
        body["state"] = station_state(station.status, station.last_seen_at, presence, now, station.seen_period_s)
    body["restart"] = (
        normalise_restart(station.chip, station.reset_reason, station.restart_cause).word
        if station.reset_reason is not None or station.restart_cause
        else None
    )
    return body


def image_json(image: FirmwareImage) -> dict[str, Any]:
    """An image record."""
    return asdict(image)


def event_json(event: Event) -> dict[str, Any]:
    """An event record."""
    return asdict(event)


def assignment_json(assignment: Assignment) -> dict[str, Any]:
    """An assignment record."""
    return asdict(assignment)


def clock_json(keeper: Timekeeper) -> dict[str, Any]:
    """What the service knows of its clock: synchronised or not (None: nothing tells), what the wall clock says,
    and the last step it took."""
    step = keeper.last_step
    return {
        "synchronised": keeper.synchronised,
        "says": keeper.timeline.wall(),
        "last_step": None if step is None else {"at": step.at, "size_s": round(step.size_s, 3)},
    }
