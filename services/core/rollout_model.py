"""The rollout vocabulary: states, settings and the records the registry keeps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from appliance.contract.shapes import RolloutState, RolloutStationState

# A station's state in a rollout, as the admin contract names it.
StationState = RolloutStationState

ACTIVE_ROLLOUT_STATES: tuple[RolloutState, ...] = ("running", "paused", "halted", "rolling_back")

# Offered the image and not yet judged: what the timer and the check-ins watch.
IN_FLIGHT: tuple[StationState, ...] = ("initiated", "downloading", "downloaded", "updating")
FINAL: tuple[StationState, ...] = ("updated", "failed", "timed_out", "rolled_back")
ERRORS: tuple[StationState, ...] = ("failed", "timed_out")

Direction = Literal["forward", "back"]

# What the appliance saw, as a stable word (the `reason` says it for people).
Outcome = Literal[
    "already_ran",  # it ran the image before the rollout reached it
    "updated",  # came back on the new version and stayed up through the soak
    "rolled_back",  # back on the previous image
    "never_asked",  # offered, but never polled for it
    "got_304",  # polled, but was answered 304 every time
    "partial",  # downloaded part of the image, then stopped
    "downloaded",  # downloaded it in full, then never came back on the new version
    "not_installed",  # downloaded it in full, kept checking in on the old version without restarting
    "old_version",  # downloaded it in full, then came back on the old version
    "boot_loop",  # came back on the new version, then crash-restarted
    "silent",  # came back on the new version, then stopped checking in during the soak
    "no_previous_image",  # a rollback found no image of the version it ran before
]


@dataclass(frozen=True, slots=True)
class RolloutSettings:
    """The knobs of one rollout (the site's defaults come from the configuration)."""

    soak_s: float = 600.0
    timeout_s: float = 1800.0
    max_failures_percent: float = 10.0
    min_rssi: int = -75
    min_free_heap: int = 16 * 1024
    downloads_per_ap: int = 2
    maintenance_window: str | None = None


@dataclass(frozen=True, slots=True)
class Rollout:
    """A rollout as the registry holds it."""

    id: int
    name: str
    sha256: str
    target: dict[str, Any]
    waves: tuple[int | str, ...]
    wave_count: int
    state: RolloutState
    current_wave: int
    settings: RolloutSettings
    created_at: float
    tolerated_wave: int = -1
    paused_at: float | None = None
    finished_at: float | None = None
    reason: str | None = None

    @property
    def active(self) -> bool:
        """True until it completed, was cancelled or was rolled back."""
        return self.state in ACTIVE_ROLLOUT_STATES


@dataclass(frozen=True, slots=True)
class RolloutStation:
    """One station's progress in one rollout."""

    rollout_id: int
    mac: str
    wave: int
    position: int
    state: StationState
    active: bool = True
    direction: Direction = "forward"
    critical: bool = False
    approved: bool = False
    previous_sha256: str | None = None
    previous_version: str | None = None
    hold: str | None = None
    outcome: str | None = None
    reason: str | None = None
    initiated_at: float | None = None
    deadline_at: float | None = None
    first_poll_at: float | None = None
    last_answer: str | None = None
    download_started_at: float | None = None
    downloaded_at: float | None = None
    reached: float | None = None
    came_back_at: float | None = None
    soak_until: float | None = None
    finished_at: float | None = None


@dataclass(frozen=True, slots=True)
class StationFacts:
    """What the registry knows of a station when a delivery rule is applied."""

    mac: str
    name: str
    chip: str | None
    project: str | None
    version: str | None
    tags: tuple[str, ...]
    recent_rssi: float | None
    free_heap: int | None
    bssid: str | None
    last_seen_at: float | None


class RolloutDecision(Protocol):
    """What a rollout answers for one poll of a station it holds."""

    @property
    def sha256(self) -> str | None:
        """The image to offer, or None for 304."""

    @property
    def note(self) -> str | None:
        """Why nothing is offered, for the admin."""
