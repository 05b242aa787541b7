"""Values the domain passes around: frozen, slotted, and free of any I/O."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal

from appliance.contract.events import STATION_EVENT_KINDS

StationStatus = Literal["pending", "accepted", "rejected", "retired"]
STATION_STATUSES: tuple[StationStatus, ...] = ("pending", "accepted", "rejected", "retired")
EVENT_KINDS_FROM_STATIONS = STATION_EVENT_KINDS


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What validation learned about a firmware image's bytes."""

    chip: str
    size: int
    md5: str
    sha256: str
    project: str | None = None
    version: str | None = None
    idf_version: str | None = None
    build_date: str | None = None
    app_sha256: str | None = None  # what the running app reports (x-ESP32-sketch-sha256), ESP32 family only


@dataclass(frozen=True, slots=True)
class FirmwareImage:
    """An image in the store, as the registry records it."""

    sha256: str
    md5: str
    size: int
    chip: str
    project: str | None
    version: str | None
    filename: str
    imported_at: float
    idf_version: str | None = None
    build_date: str | None = None
    app_sha256: str | None = None


def _sent(how: Literal["json", "headers", "learned"], *, live: bool = False, stored: bool = True) -> Any:
    """A check-in field: None unless reported, with how it comes and where it goes."""
    return field(default=None, metadata={"sent": how, "live": live, "stored": stored})


@dataclass(frozen=True, slots=True)
class CheckIn:
    """One validated check-in report from a station (every field but the MAC is optional).

    Each field says how it comes (`_sent`): in a JSON check-in, in a stock update client's /ota headers
    (station_api.ota), or learned by the appliance; and whether a live view shows it. The station row stores
    every one but the MAC and the config ETag (REPORTED_FIELDS): the registry, the parsers and the live
    stream take their lists from here.
    """

    mac: str
    chip: str | None = _sent("json", live=True)
    project: str | None = _sent("json", live=True)
    version: str | None = _sent("json", live=True)
    rssi: int | None = _sent("json", live=True)
    uptime_s: int | None = _sent("json", live=True)
    free_heap: int | None = _sent("json", live=True)
    restart_cause: str | None = _sent("json", live=True)
    ip: str | None = _sent("json", live=True)
    bssid: str | None = _sent("json", live=True)
    free_sketch_space: int | None = _sent("json")
    reset_reason: int | None = _sent("json")  # the SDK's numeric reset reason, read by chip (domain.health.resets)
    config_etag: str | None = _sent("json", stored=False)  # the ETag of the config the station has applied
    sketch_size: int | None = _sent("headers")
    sketch_md5: str | None = _sent("headers")
    sketch_sha256: str | None = _sent("headers")
    chip_size: int | None = _sent("headers")
    sdk_version: str | None = _sent("headers")
    ota_client: str | None = _sent("headers")
    # Not sent by the station: its own pace, learned by the appliance from the gaps between its signs of life.
    seen_period_s: float | None = _sent("learned")


def _fields_of_checkin(*sent: str, live: bool | None = None, stored: bool | None = None) -> tuple[str, ...]:
    return tuple(
        item.name
        for item in fields(CheckIn)
        if item.metadata.get("sent") in sent
        and (live is None or item.metadata["live"] == live)
        and (stored is None or item.metadata["stored"] == stored)
    )


# What a station row stores of a check-in (those a report leaves out keep their last value).
REPORTED_FIELDS = _fields_of_checkin("json", "headers", "learned", stored=True)
# What the stock clients' headers add, and the learned pace: stored and read back as they are.
STOCK_FIELDS = _fields_of_checkin("headers", "learned")
# What a live view's row shows of a check-in (the stream carries these with every one).
LIVE_FIELDS = _fields_of_checkin("json", live=True)


@dataclass(frozen=True, slots=True)
class Station:
    """A station as the registry holds it, with its last check-in."""

    mac: str
    name: str
    status: StationStatus
    chip: str | None
    tags: tuple[str, ...]
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
    settings: dict[str, object] = field(default_factory=dict)
    reset_reason: int | None = None
    sketch_size: int | None = None
    sketch_md5: str | None = None
    sketch_sha256: str | None = None
    chip_size: int | None = None
    sdk_version: str | None = None
    ota_client: str | None = None
    seen_period_s: float | None = None  # the station's own pace between signs of life, once learned
    key_fingerprint: str | None = None  # the station key pinned at its first contact, as shown (never the key)
    key_pinned_at: float | None = None


@dataclass(frozen=True, slots=True)
class SiteNetwork:
    """One of the site's Wi-Fi networks; `psk` is a secret ("" for an open network)."""

    id: int
    ssid: str
    psk: str = field(repr=False)
    priority: int = 0
    hidden: bool = False
    fallback: bool = False  # joined only when no other network of the site can be
    added_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened, for the admin's log and the live stream."""

    id: int
    at: float
    kind: str
    mac: str | None
    message: str
    data: dict[str, object] = field(default_factory=dict)
    audit: bool = False  # the admin's own action wrote it (kept apart from what stations cause)


@dataclass(frozen=True, slots=True)
class Assignment:
    """An image assigned to one station or to every station carrying a tag."""

    id: int
    sha256: str
    mac: str | None
    tag: str | None
    created_at: float


CommandState = Literal["queued", "delivered", "running", "succeeded", "failed", "expired", "cancelled"]
OPEN_COMMAND_STATES: tuple[CommandState, ...] = ("queued", "delivered", "running")


@dataclass(frozen=True, slots=True)
class Command:
    """Something the admin asked a station to do, and how far it got."""

    id: int
    mac: str
    kind: str
    args: dict[str, object]
    state: CommandState
    created_at: float
    expires_at: float
    delivered_at: float | None = None
    finished_at: float | None = None
    forced: bool = False
    result: str | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """A condition the admin should know about, open until cleared."""

    id: int
    kind: str
    mac: str | None
    message: str
    raised_at: float
    data: dict[str, object] = field(default_factory=dict)
    cleared_at: float | None = None
    cleared_message: str | None = None


@dataclass(frozen=True, slots=True)
class Restart:
    """One restart the appliance saw, with its normalised cause and what the station said."""

    id: int
    mac: str
    at: float
    cause: str
    kind: str
    reset_reason: int | None
    firmware_cause: str | None
    uptime_before: int | None
    version: str | None


@dataclass(frozen=True, slots=True)
class Provision:
    """A station made ready before its first check-in (a bench bundle, a USB flash), awaiting or arrived."""

    id: int
    name: str
    chip: str
    mac: str | None  # None until it arrives, when it was made without knowing its MAC
    road: str
    wifi: tuple[int, ...]  # ids of the site networks it was given
    firmware: str | None
    created_at: float
    arrived_at: float | None = None
    cancelled_at: float | None = None

    @property
    def awaiting(self) -> bool:
        """Neither arrived nor cancelled yet."""
        return self.arrived_at is None and self.cancelled_at is None


@dataclass(frozen=True, slots=True)
class ConfigState:
    """What a station was last sent of its config and what it says it has applied."""

    mac: str
    sent_etag: str | None
    sent_wifi: tuple[int, ...]
    applied_etag: str | None
    acked_wifi: tuple[int, ...]
    acked_at: float | None
