"""Improv Wi-Fi over serial: hand a station the site's Wi-Fi through its USB serial port (improv-wifi.com/serial)."""

from __future__ import annotations

from services.adapters.improv.client import DeviceInfo, ImprovClient, ImprovFailed, ImprovReport, ProvisionResult
from services.adapters.improv.protocol import ImprovState, error_words, state_words

__all__ = [
    "DeviceInfo",
    "ImprovClient",
    "ImprovFailed",
    "ImprovReport",
    "ImprovState",
    "ProvisionResult",
    "error_words",
    "state_words",
]
