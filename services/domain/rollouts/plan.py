"""Planning a rollout: what the admin asked for, checked, and the stations put in wave order."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from services.core.errors import InvalidInput
from services.core.labels import parse_tags
from services.core.macaddr import parse_mac
from services.core.rollout_model import RolloutSettings, StationFacts
from services.domain.rollouts.gates import CRITICAL_TAG, parse_window

WaveSpec = int | str
DEFAULT_WAVES: tuple[WaveSpec, ...] = (1, "25%", "rest")
MAX_WAVES = 10
CANARY_TAG = "canary"
_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*%")

# name: (lowest, highest, whole numbers only)
_LIMITS: dict[str, tuple[float, float, bool]] = {
    "soak_s": (0, 7 * 86400, False),
    "timeout_s": (1, 7 * 86400, False),
    "max_failures_percent": (0, 100, False),
    "min_rssi": (-127, 0, True),
    "min_free_heap": (0, 2**32, True),
    "downloads_per_ap": (1, 1000, True),
}


def parse_waves(value: object) -> tuple[WaveSpec, ...]:
    """Wave sizes: whole numbers of stations, percentages of the target ("25%"), and "rest" last."""
    if value is None:
        return DEFAULT_WAVES
    items: Any = [part.strip() for part in value.split(",")] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise InvalidInput('waves must be a non-empty list such as [1, "25%", "rest"]')
    if len(items) > MAX_WAVES:
        raise InvalidInput(f"at most {MAX_WAVES} waves, got {len(items)}")
    waves: list[WaveSpec] = []
    for index, item in enumerate(items):
        if isinstance(item, str) and item.isascii() and item.isdigit():
            item = int(item)
        if isinstance(item, int) and not isinstance(item, bool) and item >= 1:
            waves.append(item)
        elif isinstance(item, str) and item.strip().lower() == "rest":
            if index != len(items) - 1:
                raise InvalidInput("'rest' can only be the last wave")
            waves.append("rest")
        elif isinstance(item, str) and (match := _PERCENT.fullmatch(item.strip())):
            percent = float(match.group(1))
            if not 0 < percent <= 100:
                raise InvalidInput(f"a wave of {item!r} is not between 0 and 100 %")
            waves.append(f"{match.group(1)}%")
        else:
            raise InvalidInput(f"wave {index + 1} must be a number of stations, a percentage or 'rest', got {item!r}")
    return tuple(waves)


def wave_sizes(waves: Sequence[WaveSpec], total: int) -> list[int]:
    """How many stations each wave takes out of `total`; what the listed waves leave forms one last wave."""
    sizes: list[int] = []
    left = total
    for wave in waves:
        if left <= 0:
            break
        if wave == "rest":
            size = left
        elif isinstance(wave, int):
            size = wave
        else:
            size = math.ceil(total * float(wave.rstrip("%")) / 100)
        size = min(max(size, 1), left)
        sizes.append(size)
        left -= size
    if left > 0:
        sizes.append(left)
    return sizes


def wave_order(stations: Sequence[StationFacts]) -> list[StationFacts]:
    """Canaries first (tag canary), critical stations last; in between the strongest signal leads.

    When no station is tagged canary the first wave is therefore the best-linked ordinary station: if it
    fails, the image is to blame and not the link.
    """

    def rank(station: StationFacts) -> tuple[int, float, str]:
        # Critical outranks canary: a critical station never goes first, whatever else it is tagged.
        role = 2 if CRITICAL_TAG in station.tags else 0 if CANARY_TAG in station.tags else 1
        signal = -station.recent_rssi if station.recent_rssi is not None else 200.0
        return role, signal, station.name.lower()

    return sorted(stations, key=rank)


def parse_target(value: object) -> dict[str, Any]:
    """{"all": true}, {"tag": "t"} or {"stations": ["MAC", ...]}."""
    if not isinstance(value, Mapping) or len(value) != 1:
        raise InvalidInput('target must be one of {"all": true}, {"tag": "NAME"} or {"stations": ["MAC", ...]}')
    ((kind, what),) = value.items()
    if kind == "all" and what is True:
        return {"all": True}
    if kind == "tag" and isinstance(what, str) and what.strip():
        return {"tag": parse_tags([what])[0]}
    if kind == "stations" and isinstance(what, list) and what:
        if len(what) > 10_000:
            raise InvalidInput("at most 10,000 stations in a list")
        macs = [parse_mac(mac) for mac in what]
        return {"stations": list(dict.fromkeys(macs))}
    raise InvalidInput('target must be one of {"all": true}, {"tag": "NAME"} or {"stations": ["MAC", ...]}')


def parse_settings(body: Mapping[str, Any], defaults: RolloutSettings) -> RolloutSettings:
    """The rollout's knobs from the admin's request, each checked; what is left out takes the site's default."""
    changes: dict[str, Any] = {}
    for name, (low, high, whole) in _LIMITS.items():
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or (whole and not float(value).is_integer()):
            raise InvalidInput(f"{name} must be a {'whole ' if whole else ''}number")
        if not low <= value <= high:
            raise InvalidInput(f"{name} must be from {low:g} to {high:g}, got {value}")
        changes[name] = int(value) if whole else float(value)
    if "maintenance_window" in body:
        window = body["maintenance_window"]
        if window not in (None, "") and not isinstance(window, str):
            raise InvalidInput("maintenance_window must be 'HH:MM-HH:MM' or null")
        changes["maintenance_window"] = parse_window(window) if window else None
    return dataclasses.replace(defaults, **changes)


def parse_name(value: object, fallback: str) -> str:
    """A rollout's name: printable, at most 64 characters."""
    if value is None:
        return fallback
    if not isinstance(value, str) or not value.strip() or len(value) > 64 or not value.isprintable():
        raise InvalidInput("a rollout's name must be 1-64 printable characters")
    return value.strip()
