"""The domain: what stations report, what they are offered, what the admin may change."""

from __future__ import annotations

from services.fleet.administration import Administration
from services.fleet.journal import Journal
from services.fleet.library import FirmwareLibrary
from services.fleet.offers import FirmwareOffers, OtaRequest
from services.fleet.reports import ReportPolicy, StationReports

__all__ = [
    "Administration",
    "FirmwareLibrary",
    "FirmwareOffers",
    "Journal",
    "OtaRequest",
    "ReportPolicy",
    "StationReports",
]
