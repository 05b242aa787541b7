"""What the admin API answers, as types: the service writes these shapes, the CLI and the TUI read them.

A field renamed here makes mypy fail wherever the TUI or the CLI still reads the old name.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

StationStatus = Literal["pending", "accepted", "rejected", "retired"]
CommandState = Literal["queued", "delivered", "running", "succeeded", "failed", "expired", "cancelled"]


class Station(TypedDict):
    """A station with its last check-in, the image it should run, its state and its last restart."""

    mac: str
    name: str
    status: StationStatus
    chip: str | None
    tags: list[str]
    project: str | None
    version: str | None
    rssi: int | None
    uptime_s: int | None
    free_heap: int | None
    free_sketch_space: int | None
    restart_cause: str | None
    ip: str | None
    bssid: str | None
    created_at: float
    last_seen_at: float | None
    has_token: bool
    ota_note: str | None
    settings: dict[str, Any]
    reset_reason: int | None
    sketch_size: int | None
    sketch_md5: str | None
    sketch_sha256: str | None
    chip_size: int | None
    sdk_version: str | None
    ota_client: str | None
    seen_period_s: float | None
    key_fingerprint: str | None
    key_pinned_at: float | None
    assigned_image: str | None
    assigned_version: str | None
    state: NotRequired[str]  # online, late, offline, ... (not in the answer to a delete)
    restart: str | None


class Image(TypedDict):
    """A firmware image in the library."""

    sha256: str
    md5: str
    size: int
    chip: str
    project: str | None
    version: str | None
    filename: str
    imported_at: float
    idf_version: str | None
    build_date: str | None
    app_sha256: str | None


class Assignment(TypedDict):
    """An image assigned to one station or to every station carrying a tag."""

    id: int
    sha256: str
    mac: str | None
    tag: str | None
    created_at: float


class Event(TypedDict):
    """Something that happened: a stored event, as listed and as streamed live."""

    id: int
    at: float
    kind: str
    mac: str | None
    message: str
    data: dict[str, Any]
    audit: bool


class Command(TypedDict):
    """Something the admin asked a station to do, and how far it got."""

    id: int
    mac: str
    kind: str
    args: dict[str, Any]
    state: CommandState
    created_at: float
    expires_at: float
    delivered_at: float | None
    finished_at: float | None
    forced: bool
    result: str | None


class Alert(TypedDict):
    """A condition the admin should know about, open until cleared."""

    id: int
    kind: str
    mac: str | None
    message: str
    raised_at: float
    data: dict[str, Any]
    cleared_at: float | None
    cleared_message: str | None


class ClockStep(TypedDict):
    """The last step of the service's clock."""

    at: float
    size_s: float


class Clock(TypedDict):
    """What the service knows of its clock (synchronised None: nothing tells)."""

    synchronised: bool | None
    says: float
    last_step: ClockStep | None


class Mdns(TypedDict):
    """What the appliance announces by mDNS."""

    hostname: str | None
    instance: str | None
    addresses: list[str]
    not_announcing: str | None


class Status(TypedDict):
    """The service: version, its clock, where stations reach it, and the counts."""

    version: str
    api: str
    now: float
    started_at: float
    uptime_s: float
    clock: Clock
    station_port: int
    station_url: str
    hostname: str
    poll_interval_s: int
    late_after_s: float
    offline_after_s: float
    counts: dict[str, int]
    alerts_open: int
    mdns: Mdns | None


class Checkin(TypedDict):
    """One kept check-in of a station's history."""

    at: float
    rssi: int | None
    uptime_s: int | None
    free_heap: int | None
    restart_cause: str | None
    version: str | None
    ip: str | None
    bssid: str | None


class Restart(TypedDict):
    """A restart the appliance saw, with its normalised cause and what the station said."""

    id: int
    mac: str
    at: float
    cause: str
    kind: str
    reset_reason: int | None
    firmware_cause: str | None
    uptime_before: int | None
    version: str | None


class Rollup(TypedDict):
    """A station's history summarised over an hour or a day."""

    start: float
    span_s: int
    samples: int
    rssi_min: int | None
    rssi_max: int | None
    rssi_avg: float | None
    heap_min: int | None
    uptime_max: int | None
    version: str | None


class WifiNetwork(TypedDict):
    """One of the site's Wi-Fi networks, its passphrase never shown."""

    id: int
    ssid: str
    priority: int
    hidden: bool
    fallback: bool
    open: bool
    added_at: float


class WifiRemoved(TypedDict):
    """A network dropped, and the stations that did not hold the others yet (when overridden)."""

    removed: WifiNetwork
    not_ready: list[str]


RolloutState = Literal["running", "paused", "halted", "completed", "cancelled", "rolling_back", "rolled_back"]
RolloutStationState = Literal[
    "queued", "initiated", "downloading", "downloaded", "updating", "updated", "failed", "timed_out", "rolled_back"
]


class RolloutImage(TypedDict):
    """The image a rollout offers (its version, project and chip: None if it left the library)."""

    sha256: str
    version: str | None
    project: str | None
    chip: str | None


class RolloutSettings(TypedDict):
    """How a rollout judges and paces its waves."""

    soak_s: float
    timeout_s: float
    max_failures_percent: float
    min_rssi: int
    min_free_heap: int
    downloads_per_ap: int
    maintenance_window: str | None


class RolloutWave(TypedDict):
    """One wave: how many stations, where it stands, and its stations' states counted."""

    wave: int
    size: int
    state: str
    counts: dict[str, int]


class RolloutStation(TypedDict):
    """One station of a rollout: its wave, its state and what the appliance saw of it."""

    mac: str
    wave: int
    state: RolloutStationState
    active: bool
    direction: Literal["forward", "back"]
    critical: bool
    approved: bool
    previous_sha256: str | None
    previous_version: str | None
    hold: str | None
    outcome: str | None
    reason: str | None
    initiated_at: float | None
    deadline_at: float | None
    first_poll_at: float | None
    last_answer: str | None
    download_started_at: float | None
    downloaded_at: float | None
    reached: float | None
    came_back_at: float | None
    soak_until: float | None
    finished_at: float | None
    name: str
    version: str | None
    tags: list[str]


class RolloutSummary(TypedDict):
    """A rollout as listed: its state, image, target, plan and counts."""

    id: int
    name: str
    state: RolloutState
    reason: str | None
    image: RolloutImage
    target: dict[str, Any]
    wave_plan: list[int | str]
    current_wave: int
    wave_count: int
    settings: RolloutSettings
    created_at: float
    paused_at: float | None
    finished_at: float | None
    counts: dict[str, int]


class Rollout(RolloutSummary):
    """One rollout in full: its waves and every station."""

    waves: list[RolloutWave]
    stations: list[RolloutStation]


class PlannedWave(TypedDict):
    """A wave of a plan: its size and its stations by name."""

    size: int
    stations: list[str]


class RolloutPlan(TypedDict):
    """What starting a rollout would do, without starting it."""

    name: str
    image: RolloutImage
    target: dict[str, Any]
    stations: int
    critical: int
    waves: list[PlannedWave]
    settings: RolloutSettings
