"""The admin HTTP app, served on the unix socket: the only door for people."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from services.adapters.admin_api import (
    backup_routes,
    command_routes,
    feed_routes,
    health_routes,
    onboarding_routes,
    rollout_routes,
    usb_routes,
    wifi_routes,
)
from services.adapters.admin_api.compression import compress_answers
from services.adapters.admin_api.keys import (
    ADMINISTRATION,
    BENCH,
    BUS,
    CLOCK,
    INFO,
    LIBRARY,
    MDNS,
    PROVISIONING,
    PUSHER,
    REGISTRY,
    REPORTS,
    SITE_WIFI,
)
from services.adapters.admin_api.routes import routes
from services.adapters.admin_api.status import ServiceInfo
from services.adapters.admin_api.stream import event_stream
from services.adapters.http_errors import BODY_LIMIT, Handler, answer_bad_expectations, error_middleware
from services.adapters.lan.mdns import MdnsStatus
from services.adapters.lan.push import LanPusher
from services.adapters.uplink import FeedFollower
from services.adapters.usb import UsbOnboarding
from services.domain.backup import SiteBackup
from services.domain.clock.keeper import Timekeeper
from services.domain.commands import CommandQueue
from services.domain.fleet import Administration, FirmwareLibrary, StationReports
from services.domain.onboarding.bench import BenchBundles
from services.domain.onboarding.provisioning import Provisioning
from services.domain.rollouts.actions import RolloutActions
from services.domain.sitewifi import SiteWifi
from services.store.journal import ADMIN_ACTING, Journal


@dataclass(frozen=True, slots=True)
class AdminParts:
    """Everything the admin API serves, each built once by the composition root."""

    journal: Journal
    info: ServiceInfo
    max_image_bytes: int
    administration: Administration
    library: FirmwareLibrary
    reports: StationReports
    timekeeper: Timekeeper
    commands: CommandQueue
    rollouts: RolloutActions
    provisioning: Provisioning
    bench: BenchBundles
    site_wifi: SiteWifi
    pusher: LanPusher
    usb: UsbOnboarding
    feed: FeedFollower
    backup: SiteBackup
    mdns: MdnsStatus | None  # None when mDNS is off


def create_admin_app(parts: AdminParts) -> web.Application:
    """Build the admin app; uploads may be as large as the largest image allowed."""
    answer_bad_expectations()
    limit = parts.max_image_bytes + 1024
    app = web.Application(middlewares=[compress_answers, admin_acting, error_middleware], client_max_size=limit)
    app[BODY_LIMIT] = limit
    app[REGISTRY] = parts.journal.registry
    app[BUS] = parts.journal.bus
    app[health_routes.ALERT_JOURNAL] = parts.journal
    app[INFO] = parts.info
    app[ADMINISTRATION] = parts.administration
    app[LIBRARY] = parts.library
    app[REPORTS] = parts.reports
    app[CLOCK] = parts.timekeeper
    app[MDNS] = parts.mdns
    app[PUSHER] = parts.pusher
    app[command_routes.COMMAND_QUEUE] = parts.commands
    app[rollout_routes.ROLLOUTS] = parts.rollouts
    app[PROVISIONING] = parts.provisioning
    app[BENCH] = parts.bench
    app[SITE_WIFI] = parts.site_wifi
    app[usb_routes.USB] = parts.usb
    app[feed_routes.FEED] = parts.feed
    app[backup_routes.BACKUP] = parts.backup
    app.router.add_get("/v1/events/stream", event_stream)
    for table in (
        routes,
        health_routes.routes,
        command_routes.routes,
        rollout_routes.routes,
        backup_routes.routes,
        feed_routes.routes,
        onboarding_routes.routes,
        wifi_routes.routes,
        usb_routes.routes,
    ):
        app.router.add_routes(table)
    return app


@web.middleware
async def admin_acting(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Everything an admin's request writes is the audit trail (and what it starts inherits that)."""
    ADMIN_ACTING.set(True)  # each request is served in a task of its own: the value ends with it
    return await handler(request)
