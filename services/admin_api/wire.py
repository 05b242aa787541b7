"""Domain values in their admin-API JSON form."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from services.models import Assignment, Event, FirmwareImage, Station


def station_json(station: Station, assigned: FirmwareImage | None) -> dict[str, Any]:
    """A station with the image it should run."""
    body = asdict(station)
    body["tags"] = list(station.tags)
    body["assigned_image"] = None if assigned is None else assigned.sha256
    body["assigned_version"] = None if assigned is None else assigned.version
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
