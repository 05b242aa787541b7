"""Station health: restart causes in one vocabulary, derived states, alerts and the sweep that watches for silence."""

from __future__ import annotations

from services.health.alerts import ALERT_KINDS, clear_alert, dismiss_alert, raise_alert
from services.health.checkins import CheckinHealth, HealthPolicy, Verdict
from services.health.monitor import HealthMonitor
from services.health.resets import CAUSES, RestartCause, normalise_restart
from services.health.signal import SignalPolicy
from services.health.states import Presence, station_state

__all__ = [
    "ALERT_KINDS",
    "CAUSES",
    "CheckinHealth",
    "HealthMonitor",
    "HealthPolicy",
    "Presence",
    "RestartCause",
    "SignalPolicy",
    "Verdict",
    "clear_alert",
    "dismiss_alert",
    "normalise_restart",
    "raise_alert",
    "station_state",
]
