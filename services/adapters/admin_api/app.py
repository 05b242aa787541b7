"""The admin HTTP app, served on the unix socket: the only door for people."""

from __future__ import annotations

from aiohttp import web

from services.adapters.admin_api import (
    backup_routes,
    command_routes,
    feed_routes,
    health_routes,
    onboarding_routes,
    rollout_routes,
    wifi_routes,
)
from services.adapters.admin_api.compression import compress_answers
from services.adapters.admin_api.keys import ADMINISTRATION, BUS, CLOCK, INFO, LIBRARY, MDNS, PUSHER, REGISTRY, REPORTS
from services.adapters.admin_api.routes import routes
from services.adapters.admin_api.status import ServiceInfo
from services.adapters.admin_api.stream import event_stream
from services.adapters.admin_api.usb_routes import install as install_usb
from services.adapters.http_errors import BODY_LIMIT, Handler, answer_bad_expectations, error_middleware
from services.adapters.lan.mdns import MdnsStatus
from services.adapters.lan.push import LanPusher
from services.adapters.usb import UsbOnboarding
from services.core.eventbus import EventBus
from services.domain.clock.keeper import Timekeeper
from services.domain.commands import CommandQueue
from services.domain.fleet import Administration, FirmwareLibrary, StationReports
from services.domain.rollouts.actions import RolloutActions
from services.store.journal import ADMIN_ACTING, Journal
from services.store.registry import Registry


def create_admin_app(
    registry: Registry,
    administration: Administration,
    library: FirmwareLibrary,
    reports: StationReports,
    bus: EventBus,
    info: ServiceInfo,
    max_image_bytes: int,
    mdns_status: list[MdnsStatus],
    commands: CommandQueue | None = None,
    usb: UsbOnboarding | None = None,
    *,
    rollouts: RolloutActions,
    timekeeper: Timekeeper,
) -> web.Application:
    """Build the admin app; uploads may be as large as the largest image allowed."""
    answer_bad_expectations()
    app = web.Application(
        middlewares=[compress_answers, admin_acting, error_middleware], client_max_size=max_image_bytes + 1024
    )
    app[BODY_LIMIT] = max_image_bytes + 1024
    app[REGISTRY] = registry
    app[ADMINISTRATION] = administration
    app[LIBRARY] = library
    app[REPORTS] = reports
    app[BUS] = bus
    app[INFO] = info
    app[CLOCK] = timekeeper
    app[MDNS] = mdns_status
    app[PUSHER] = LanPusher(Journal(registry, bus), library)
    app.router.add_get("/v1/events/stream", event_stream)
    app.router.add_routes(routes)
    app[health_routes.ALERT_JOURNAL] = Journal(registry, bus)
    app.router.add_routes(health_routes.routes)
    app[command_routes.COMMAND_QUEUE] = commands or CommandQueue(Journal(registry, bus))
    app.router.add_routes(command_routes.routes)
    rollout_routes.register(app, rollouts)
    app.router.add_routes(backup_routes.routes)
    app.router.add_routes(feed_routes.routes)
    onboarding_routes.install(app)
    wifi_routes.install(app)
    install_usb(app, usb)
    return app


@web.middleware
async def admin_acting(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Everything an admin's request writes is the audit trail (and what it starts inherits that)."""
    ADMIN_ACTING.set(True)  # each request is served in a task of its own: the value ends with it
    return await handler(request)
