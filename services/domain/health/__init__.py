"""Station health: restart causes in one vocabulary, derived states, alerts and the sweep that watches for silence."""

from __future__ import annotations

from services.domain.health.alerts import ALERT_KINDS, clear_alert, dismiss_alert, raise_alert
from services.domain.health.checkins import CheckinHealth, HealthPolicy, Verdict
from services.domain.health.monitor import HealthMonitor
from services.domain.health.resets import CAUSES, RestartCause, normalise_restart
from services.domain.health.signal import SignalPolicy
from services.domain.health.states import Presence, station_state

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
