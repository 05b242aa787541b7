"""Who a rollout is for: the stations its target names that can take the image, and what each runs now."""

from __future__ import annotations

from collections.abc import Mapping
from statistics import fmean
from typing import Any

from services.core.errors import Conflict, InvalidInput
from services.core.models import FirmwareImage, Station
from services.core.rollout_model import StationFacts
from services.domain.rollouts.progress import RECENT_S
from services.store.registry import Registry


async def choose(registry: Registry, image: FirmwareImage, target: Mapping[str, Any]) -> list[Station]:
    """The stations the target names that can take this image; an explicit list must all be able to."""
    everyone = await registry.stations.all()
    if "stations" in target:
        by_mac = {s.mac: s for s in everyone}
        unknown = [mac for mac in target["stations"] if mac not in by_mac]
        if unknown:
            raise InvalidInput(f"no station with MAC {', '.join(unknown)}")
        named = [by_mac[mac] for mac in target["stations"]]
        unfit = [f"{s.name} ({why})" for s in named if (why := _unfit(s, image))]
        if unfit:
            raise InvalidInput(f"cannot take {image.version} for {image.chip}: {'; '.join(unfit)}")
        chosen = named
    else:
        tag = target.get("tag")
        chosen = [s for s in everyone if (tag is None or tag in s.tags) and _unfit(s, image) is None]
    busy = await registry.rollouts.active_macs()
    taken = [s.name for s in chosen if s.mac in busy]
    if taken:
        raise Conflict(f"already in an unfinished rollout: {', '.join(taken)}; finish or cancel that one first")
    chosen = [s for s in chosen if not _runs(s, image)]
    if not chosen:
        raise InvalidInput(
            f"no accepted {image.chip} station of that target still needs {image.version}"
            " (stations of other chips, other projects, or already on it are left out)"
        )
    return chosen


async def facts_of(registry: Registry, station: Station, now: float) -> StationFacts:
    """The station as the wave order sees it: its role (tags) and its recent signal."""
    since = now - RECENT_S
    history = await registry.history.checkins(station.mac, limit=12)
    readings = [h["rssi"] for h in history if isinstance(h["rssi"], int) and _at(h) >= since]
    if station.rssi is not None:
        readings.append(station.rssi)
    return StationFacts(
        mac=station.mac,
        name=station.name,
        chip=station.chip,
        project=station.project,
        version=station.version,
        tags=station.tags,
        recent_rssi=fmean(readings) if readings else None,
        free_heap=station.free_heap,
        bssid=station.bssid,
        last_seen_at=station.last_seen_at,
    )


async def previous_image(registry: Registry, station: Station) -> str | None:
    """The image the station runs before the rollout: its assignment if it matches, else one of its version."""
    assigned = await registry.images.assigned_for(station)
    if assigned is not None and assigned.version == station.version:
        return assigned.sha256
    if station.chip is None or station.version is None:
        return None
    return await registry.rollouts.image_for_version(station.chip, station.project, station.version)


def _at(checkin: Mapping[str, object]) -> float:
    at = checkin["at"]
    return float(at) if isinstance(at, int | float) else 0.0


def _unfit(station: Station, image: FirmwareImage) -> str | None:
    if station.status != "accepted":
        return f"it is {station.status}"
    if station.chip != image.chip:
        return f"it is an {station.chip or 'unknown chip'}, the image is for {image.chip}"
    if station.project and image.project and station.project != image.project:
        return f"it runs {station.project}, the image is {image.project}"
    return None


def _runs(station: Station, image: FirmwareImage) -> bool:
    return station.version == image.version and (station.project in (None, image.project) or image.project is None)
