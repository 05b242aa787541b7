"""Typed keys for what the admin app holds."""

from __future__ import annotations

from aiohttp import web

from services.admin_api.status import ServiceInfo
from services.clock.keeper import Timekeeper
from services.eventbus import EventBus
from services.fleet import Administration, FirmwareLibrary, StationReports
from services.lan.mdns import MdnsStatus
from services.lan.push import LanPusher
from services.onboarding.bench import BenchBundles
from services.onboarding.provisioning import Provisioning
from services.registry import Registry
from services.sitewifi import SiteWifi

REGISTRY = web.AppKey("registry", Registry)
ADMINISTRATION = web.AppKey("administration", Administration)
LIBRARY = web.AppKey("library", FirmwareLibrary)
REPORTS = web.AppKey("reports", StationReports)
BUS = web.AppKey("bus", EventBus)
INFO = web.AppKey("info", ServiceInfo)
CLOCK = web.AppKey("clock", Timekeeper)
MDNS = web.AppKey("mdns", list[MdnsStatus])
PUSHER = web.AppKey("pusher", LanPusher)
# Onboarding (issue 5)
PROVISIONING = web.AppKey("provisioning", Provisioning)
BENCH = web.AppKey("bench", BenchBundles)
SITE_WIFI = web.AppKey("site_wifi", SiteWifi)
