"""The settings, read once into the policy objects each collaborator is built with."""

from __future__ import annotations

from appliance.config import Settings
from services.adapters.usb import UsbSettings
from services.core.rollout_model import RolloutSettings
from services.domain.fleet import ReportPolicy
from services.domain.fleet.removal import PendingPolicy
from services.domain.fleet.retention import RetentionPolicy
from services.domain.health import HealthPolicy, Presence, SignalPolicy


def presence(settings: Settings) -> Presence:
    """When a station counts as late and as offline: [stations] poll_interval_s, [health] offline_after_missed."""
    return Presence(settings.poll_interval_s, settings.offline_after_missed)


def health_policy(settings: Settings) -> HealthPolicy:
    """What a check-in is judged by: [health]."""
    return HealthPolicy(
        signal=SignalPolicy(threshold_dbm=settings.weak_signal_dbm),
        presence=presence(settings),
        reboot_loop_restarts=settings.reboot_loop_restarts,
        reboot_loop_window_s=settings.reboot_loop_window_s,
    )


def report_policy(settings: Settings) -> ReportPolicy:
    """How often stations report and how often a check-in is kept as history."""
    return ReportPolicy(
        poll_interval_s=settings.poll_interval_s,
        checkin_history_interval_s=settings.checkin_history_interval_s,
    )


def pending_policy(settings: Settings) -> PendingPolicy:
    """How many unknown stations may wait, and for how long: [stations]."""
    return PendingPolicy(max_pending=settings.max_pending_stations, expiry_days=settings.pending_expiry_days)


def retention_policy(settings: Settings) -> RetentionPolicy:
    """How long history is kept: [retention]."""
    return RetentionPolicy(
        checkin_days=settings.checkin_retention_days,
        event_days=settings.event_retention_days,
        event_rows=settings.event_retention_rows,
        hourly_days=settings.checkin_hourly_days,
        daily_days=settings.checkin_daily_days,
    )


def rollout_defaults(settings: Settings) -> RolloutSettings:
    """The site's defaults for a new rollout: [rollouts]."""
    return RolloutSettings(
        min_rssi=settings.rollout_min_rssi,
        min_free_heap=settings.rollout_min_free_heap,
        downloads_per_ap=settings.rollout_downloads_per_ap,
        maintenance_window=settings.maintenance_window.strip() or None,
    )


def usb_settings(settings: Settings) -> UsbSettings:
    """Which ports are watched and how patiently: [usb]."""
    return UsbSettings(
        patterns=settings.usb_ports,
        poll_s=settings.usb_poll_ms / 1000,
        identify=settings.usb_identify,
        improv_probe_s=settings.usb_improv_probe_ms / 1000,
        improv_timeout_s=settings.usb_improv_timeout_s,
        checkin_wait_s=settings.usb_checkin_wait_s,
    )
