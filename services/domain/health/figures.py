"""The fleet in figures, gathered in one go for the metrics endpoint: no HTTP here, only what the registry says."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from services.core.models import Alert, FirmwareImage, Station
from services.domain.health.states import Presence, station_state
from services.store.registry import Registry


@dataclass(frozen=True, slots=True)
class AssignmentProgress:
    """How far an assigned image has got: stations it is for, and those that report running it."""

    image: FirmwareImage
    target: str
    stations: int
    updated: int


@dataclass(frozen=True, slots=True)
class FleetFigures:
    """Everything the metrics show, read at one moment."""

    at: float
    stations: list[Station]
    states: dict[str, str]
    restart_counts: list[tuple[str, str, int]]
    open_alerts: list[Alert]
    commands: dict[str, int]
    assignments: list[AssignmentProgress] = field(default_factory=list)


async def gather_figures(registry: Registry, presence: Presence, clock: Callable[[], float]) -> FleetFigures:
    """Read the figures from the registry (station rows include check-ins not yet written)."""
    now = clock()
    stations = await registry.stations.all()
    states = {s.mac: station_state(s.status, s.last_seen_at, presence, now, s.seen_period_s) for s in stations}
    return FleetFigures(
        at=now,
        stations=stations,
        states=states,
        restart_counts=await registry.health.restart_counts(),
        open_alerts=await registry.health.alerts(open_only=True, limit=100_000),
        commands=await registry.commands.counts_by_state(),
        assignments=await _progress(registry, stations),
    )


async def _progress(registry: Registry, stations: list[Station]) -> list[AssignmentProgress]:
    assignments = await registry.images.assignments()
    # As `/ota` decides: a station's own assignment first, else its tags' (the oldest wins).
    ordered = sorted(assignments, key=lambda a: (a.mac is None, a.id))
    members: dict[int, list[Station]] = {a.id: [] for a in assignments}
    for station in stations:
        if station.status != "accepted":
            continue
        for assignment in ordered:
            if assignment.mac == station.mac or (assignment.tag is not None and assignment.tag in station.tags):
                members[assignment.id].append(station)
                break
    found = []
    for assignment in assignments:
        image = await registry.images.get(assignment.sha256)
        if image is None:
            continue
        target = f"station:{assignment.mac}" if assignment.mac is not None else f"tag:{assignment.tag}"
        ours = [s for s in members[assignment.id] if s.chip in (None, image.chip)]  # others are never offered it
        updated = sum(1 for s in ours if image.version is not None and s.version == image.version)
        found.append(AssignmentProgress(image, target, len(ours), updated))
    return found
