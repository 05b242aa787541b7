"""Typed keys for what the admin app holds."""

from __future__ import annotations

from aiohttp import web

from services.adapters.admin_api.status import ServiceInfo
from services.adapters.lan.mdns import MdnsStatus
from services.adapters.lan.push import LanPusher
from services.core.eventbus import EventBus
from services.domain.clock.keeper import Timekeeper
from services.domain.fleet import Administration, FirmwareLibrary, StationReports
from services.domain.onboarding.bench import BenchBundles
from services.domain.onboarding.provisioning import Provisioning
from services.domain.sitewifi import SiteWifi
from services.store.registry import Registry

REGISTRY = web.AppKey("registry", Registry)
ADMINISTRATION = web.AppKey("administration", Administration)
LIBRARY = web.AppKey("library", FirmwareLibrary)
REPORTS = web.AppKey("reports", StationReports)
BUS = web.AppKey("bus", EventBus)
INFO = web.AppKey("info", ServiceInfo)
CLOCK = web.AppKey("clock", Timekeeper)
MDNS = web.AppKey[MdnsStatus | None]("mdns")  # None when mDNS is off
PUSHER = web.AppKey("pusher", LanPusher)
PROVISIONING = web.AppKey("provisioning", Provisioning)
BENCH = web.AppKey("bench", BenchBundles)
SITE_WIFI = web.AppKey("site_wifi", SiteWifi)
