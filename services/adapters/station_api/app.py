"""The station HTTP app: everything a station may do, and nothing an admin may."""

from __future__ import annotations

from aiohttp import web

from services.adapters.http_errors import BODY_LIMIT, BODY_TIMEOUT, answer_bad_expectations, error_middleware
from services.adapters.station_api import api_v1, esphome, ota
from services.adapters.station_api.commands import COMMANDS, command_result
from services.adapters.station_api.downloadlog import DownloadLog
from services.adapters.station_api.keys import (
    DOWNLOAD_LOG,
    JOURNAL,
    LIBRARY,
    OFFERS,
    REPORTS,
    SEND_TIMEOUT,
    STORED_IMAGES,
)
from services.adapters.station_api.metrics import METRICS, MetricsSource, metrics
from services.adapters.station_api.storedimages import StoredImages
from services.domain.commands import CommandQueue
from services.domain.fleet import FirmwareLibrary, FirmwareOffers, Journal, StationReports

# The contract caps JSON bodies at 16 KiB: a check-in is a few hundred bytes.
MAX_BODY_BYTES = 16 * 1024


def create_station_app(
    journal: Journal,
    reports: StationReports,
    offers: FirmwareOffers,
    library: FirmwareLibrary,
    *,
    commands: CommandQueue | None = None,
    metrics_source: MetricsSource | None = None,
    request_timeout_s: float = 30.0,
) -> web.Application:
    """Build the station app around the domain objects it serves (`/metrics` only with a metrics source); a
    station stalling longer than `request_timeout_s` is hung up on."""
    answer_bad_expectations()
    app = web.Application(middlewares=[error_middleware], client_max_size=MAX_BODY_BYTES)
    app[BODY_LIMIT] = MAX_BODY_BYTES
    app[BODY_TIMEOUT] = request_timeout_s
    app[SEND_TIMEOUT] = request_timeout_s
    app[JOURNAL] = journal
    app[REPORTS] = reports
    app[OFFERS] = offers
    app[LIBRARY] = library
    app[STORED_IMAGES] = StoredImages()
    app[DOWNLOAD_LOG] = DownloadLog(journal, offers)
    app.router.add_get("/ota", ota.ota)
    app.router.add_get("/ota/{mac}", ota.ota)
    app.router.add_get("/firmware/{name}", ota.by_digest)
    app.router.add_get("/esphome/station/{mac}/manifest.json", esphome.station_manifest)
    app.router.add_get("/esphome/tag/{tag}/manifest.json", esphome.tag_manifest)
    app.router.add_post("/api/v1/checkin", api_v1.checkin)
    app.router.add_post("/api/v1/enrol", api_v1.enrol)
    app.router.add_get("/api/v1/config", api_v1.config)
    app.router.add_post("/api/v1/events", api_v1.events)
    if commands is not None:
        app[COMMANDS] = commands
        app.router.add_post("/api/v1/commands/{id}", command_result)
    if metrics_source is not None:
        app[METRICS] = metrics_source
        app.router.add_get("/metrics", metrics)
    return app
