"""Typed keys for what the station app holds."""

from __future__ import annotations

from aiohttp import web

from services.fleet import FirmwareLibrary, FirmwareOffers, Journal, StationReports
from services.station_api.imagecache import ImageCache

REPORTS = web.AppKey("reports", StationReports)
OFFERS = web.AppKey("offers", FirmwareOffers)
LIBRARY = web.AppKey("library", FirmwareLibrary)
JOURNAL = web.AppKey("journal", Journal)
IMAGE_CACHE = web.AppKey("image_cache", ImageCache)
# Seconds a download may make no progress (the station stopped reading) before it is given up.
SEND_TIMEOUT = web.AppKey("send_timeout", float)
