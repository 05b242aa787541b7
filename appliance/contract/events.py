"""Every kind of event the service stores and streams: one Literal the service logs with and the TUI routes by.

A kind the service starts to log must be added here first (mypy refuses it otherwise), and a kind renamed here
makes mypy fail wherever the TUI or the CLI still names the old one.
"""

from __future__ import annotations

from typing import Literal, get_args

EventKind = Literal[
    "alert_cleared",
    "alert_offline",
    "alert_pending_cap_reached",
    "alert_reboot_loop",
    "alert_station_claimed_twice",
    "alert_update_not_taking",
    "alert_weak_signal",
    "alert_wrong_version",
    "backup_made",
    "backup_restored",
    "bundle_cancelled",
    "bundle_made",
    "clock_behind",
    "clock_stepped",
    "clock_synchronised",
    "clock_unsynchronised",
    "command_cancelled",
    "command_delivered",
    "command_expired",
    "command_failed",
    "command_queued",
    "command_running",
    "command_succeeded",
    "download_finished",
    "download_interrupted",
    "download_part",
    "feed_followed",
    "feed_image_refused",
    "feed_synced",
    "feed_unfollowed",
    "history_held",
    "image_assigned",
    "image_deleted",
    "image_imported",
    "image_unassigned",
    "improv_detected",
    "improv_failed",
    "improv_provisioned",
    "lan_gone",
    "lan_push_failed",
    "lan_push_finished",
    "lan_seen",
    "message",
    "onboarding_cancelled",
    "onboarding_provisioned",
    "ota_held",
    "pending_expired",
    "rebooted",
    "rollout_approved",
    "rollout_cancelled",
    "rollout_completed",
    "rollout_halted",
    "rollout_paused",
    "rollout_restored",
    "rollout_resumed",
    "rollout_rollback_started",
    "rollout_rolled_back",
    "rollout_started",
    "rollout_station",
    "rollout_waiting",
    "rollout_wave_passed",
    "rollout_wave_started",
    "station_accepted",
    "station_arrived",
    "station_chip_learned",
    "station_chip_set",
    "station_configured",
    "station_deleted",
    "station_discovered",
    "station_key_pinned",
    "station_rejected",
    "station_renamed",
    "station_restarted",
    "station_retired",
    "station_tagged",
    "station_token_issued",
    "update_failed",
    "update_finished",
    "update_started",
    "usb_flash_failed",
    "usb_flash_finished",
    "usb_flash_started",
    "usb_port_added",
    "usb_port_identified",
    "usb_port_removed",
    "usb_port_unidentified",
    "version_changed",
    "wifi_acknowledged",
    "wifi_added",
    "wifi_removed",
    "wifi_revealed",
    "wifi_rotation_complete",
]
EVENT_KINDS: frozenset[EventKind] = frozenset(get_args(EventKind))

# What the stream carries besides stored events: live figures that are never stored.
LiveKind = Literal["checkin", "lan_push_progress", "usb_flash_progress", "improv_progress", "usb_port_changed"]
LIVE_KINDS: frozenset[LiveKind] = frozenset(get_args(LiveKind))
# The stream's own word: messages were dropped (the client was too slow); what it shows may have holes.
StreamGap = Literal["stream_gap"]
# Every kind a message of the live stream may have.
StreamKind = EventKind | LiveKind | StreamGap

# What a station may report itself (POST /api/v1/events), stored under the station's MAC.
StationEventKind = Literal["update_started", "update_finished", "update_failed", "rebooted", "message"]
STATION_EVENT_KINDS: tuple[StationEventKind, ...] = get_args(StationEventKind)

# The alerts the appliance raises; each is logged as `alert_<kind>` when raised.
AlertKind = Literal[
    "weak_signal",
    "reboot_loop",
    "offline",
    "wrong_version",
    "update_not_taking",
    "station_claimed_twice",
    "pending_cap_reached",
]
ALERT_KINDS: tuple[AlertKind, ...] = get_args(AlertKind)


Kinds = frozenset[EventKind | LiveKind]


def kinds(*names: EventKind | LiveKind) -> Kinds:
    """These kinds, as a set to route by (mypy checks each name)."""
    return frozenset(names)


def family(*prefixes: str) -> Kinds:
    """The kinds, stored or live, that start with any of `prefixes` (e.g. every `rollout_` kind); a prefix that
    names no kind is a mistake, refused at once."""
    found = frozenset(kind for kind in EVENT_KINDS | LIVE_KINDS if kind.startswith(prefixes))
    for prefix in prefixes:
        if not any(kind.startswith(prefix) for kind in found):
            raise ValueError(f"no event kind starts with {prefix!r}")
    return found


def alert_raised(kind: AlertKind) -> EventKind:
    """The event kind an alert of this kind is logged as."""
    raised: EventKind = _ALERT_EVENTS[kind]
    return raised


_ALERT_EVENTS: dict[AlertKind, EventKind] = {
    "weak_signal": "alert_weak_signal",
    "reboot_loop": "alert_reboot_loop",
    "offline": "alert_offline",
    "wrong_version": "alert_wrong_version",
    "update_not_taking": "alert_update_not_taking",
    "station_claimed_twice": "alert_station_claimed_twice",
    "pending_cap_reached": "alert_pending_cap_reached",
}
