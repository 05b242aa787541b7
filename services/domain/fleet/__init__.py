"""The domain: what stations report, what they are offered, what the admin may change."""

from __future__ import annotations

from services.domain.firmware.library import FirmwareLibrary
from services.domain.fleet.administration import Administration
from services.domain.fleet.offers import FirmwareOffers, OtaRequest
from services.domain.fleet.reports import ReportPolicy, StationReports
from services.store.journal import Journal

__all__ = [
    "Administration",
    "FirmwareLibrary",
    "FirmwareOffers",
    "Journal",
    "OtaRequest",
    "ReportPolicy",
    "StationReports",
]
