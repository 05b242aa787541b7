"""The site's Wi-Fi: networks kept as secrets, and rotations that never strand a station."""

from __future__ import annotations

from services.domain.sitewifi.networks import SiteWifi
from services.domain.sitewifi.rotation import RotationStatus, StationWifi

__all__ = ["RotationStatus", "SiteWifi", "StationWifi"]
