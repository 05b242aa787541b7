"""Typed keys for what the station app holds."""

from __future__ import annotations

from aiohttp import web

from services.adapters.station_api.downloadlog import DownloadLog
from services.adapters.station_api.storedimages import StoredImages
from services.domain.fleet import FirmwareLibrary, FirmwareOffers, Journal, StationReports

REPORTS = web.AppKey("reports", StationReports)
OFFERS = web.AppKey("offers", FirmwareOffers)
LIBRARY = web.AppKey("library", FirmwareLibrary)
JOURNAL = web.AppKey("journal", Journal)
DOWNLOAD_LOG = web.AppKey("download_log", DownloadLog)
STORED_IMAGES = web.AppKey("stored_images", StoredImages)
# Seconds a download may make no progress (the station stopped reading) before it is given up.
SEND_TIMEOUT = web.AppKey("send_timeout", float)
