"""Every collaborator of the running service, each built once around one journal and one clock."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from appliance import __version__
from appliance.config import ConfigError, Settings, find_config_file
from services.adapters.admin_api.app import AdminParts
from services.adapters.admin_api.status import ServiceInfo
from services.adapters.lan.mdns import MdnsStatus
from services.adapters.lan.push import LanPusher
from services.adapters.station_api.metrics import MetricsSource
from services.adapters.uplink import FeedFollower
from services.adapters.usb import UsbOnboarding
from services.adapters.usb.provisioning import UsbProvisioning
from services.core.interfaces import why_unannounced
from services.domain.backup import SiteBackup
from services.domain.clock.keeper import Timekeeper
from services.domain.commands import CommandQueue
from services.domain.firmware.store import FirmwareStore
from services.domain.fleet import Administration, FirmwareLibrary, FirmwareOffers, StationReports
from services.domain.fleet.coalescing import CheckinCoalescer
from services.domain.fleet.removal import StationRemoval
from services.domain.fleet.sketches import SketchRecognizer
from services.domain.health import CheckinHealth, HealthMonitor
from services.domain.onboarding.bench import BenchBundles
from services.domain.onboarding.provisioning import Provisioning
from services.domain.rollouts.actions import RolloutActions
from services.domain.rollouts.engine import RolloutEngine
from services.domain.sitewifi import SiteWifi
from services.root import policies
from services.store.journal import Journal


@dataclass(frozen=True, slots=True)
class Fleet:
    """What a station's requests reach: the rules of check-ins, downloads and commands, and their keepers."""

    journal: Journal
    store: FirmwareStore
    timekeeper: Timekeeper
    rollouts: RolloutEngine
    commands: CommandQueue
    coalescer: CheckinCoalescer
    removal: StationRemoval
    reports: StationReports
    library: FirmwareLibrary
    offers: FirmwareOffers
    health_monitor: HealthMonitor


def build_fleet(settings: Settings, journal: Journal, store: FirmwareStore, timekeeper: Timekeeper) -> Fleet:
    """The station side's domain objects, wired to one another (none started)."""
    rollouts = RolloutEngine(journal)
    commands = CommandQueue(journal, settings.command_ttl_s)
    coalescer = CheckinCoalescer(
        journal,
        flush_interval_s=settings.checkin_flush_interval_s,
        history_interval_s=settings.checkin_history_interval_s,
        # A station a rollout holds has every check-in written and judged: its outcome is told from them.
        must_write=rollouts.holds,
    )
    removal = StationRemoval(journal, policies.pending_policy(settings))
    reports = StationReports(
        journal,
        policies.report_policy(settings),
        observer=rollouts,
        health=CheckinHealth(policies.health_policy(settings)),
        commands=commands,
        coalescer=coalescer,
        removal=removal,
    )
    removal.also_forget(reports.forget)
    removal.also_forget(rollouts.forget)
    library = FirmwareLibrary(journal, store, settings.max_image_bytes)
    sketches = SketchRecognizer(journal.registry, store)
    offers = FirmwareOffers(journal, rollouts, settings.maintenance_window or None, reports=reports, sketches=sketches)
    timeline = timekeeper.timeline
    monitor = HealthMonitor(journal, policies.presence(settings), lambda: timeline.started_at)
    return Fleet(journal, store, timekeeper, rollouts, commands, coalescer, removal, reports, library, offers, monitor)


def metrics_source(settings: Settings, fleet: Fleet) -> MetricsSource | None:
    """/metrics, if the settings serve it."""
    if not settings.metrics:
        return None
    return MetricsSource(
        fleet.journal.registry,
        policies.presence(settings),
        fleet.timekeeper.timeline,
        fleet.coalescer,
        stations=settings.metrics_stations,
        allow=settings.metrics_allow,
    )


def service_info(settings: Settings, port: int, hosts: tuple[str, ...], listen_url: str) -> ServiceInfo:
    """What the admin API says of the service, once the station API is bound."""
    return ServiceInfo(
        version=__version__,
        station_port=port,
        station_url=listen_url,
        hostname=settings.hostname,
        poll_interval_s=settings.poll_interval_s,
        offline_after_missed=settings.offline_after_missed,
        http_host=settings.http_host,
        mdns_enabled=settings.mdns and why_unannounced(hosts) is None,
    )


def build_usb(settings: Settings, fleet: Fleet) -> UsbOnboarding:
    """The USB road in (watching no port when [usb] ports is empty)."""
    journal = fleet.journal
    return UsbOnboarding(journal, fleet.library, UsbProvisioning(journal), policies.usb_settings(settings))


def admin_parts(
    settings: Settings, fleet: Fleet, info: ServiceInfo, usb: UsbOnboarding, mdns: MdnsStatus | None
) -> AdminParts:
    """The admin API's side, around the same journal, library and rules the stations reach."""
    journal, library = fleet.journal, fleet.library
    provisioning = Provisioning(journal)
    return AdminParts(
        journal=journal,
        info=info,
        max_image_bytes=settings.max_image_bytes,
        administration=Administration(journal, fleet.removal),
        library=library,
        reports=fleet.reports,
        timekeeper=fleet.timekeeper,
        commands=fleet.commands,
        rollouts=RolloutActions(journal, fleet.rollouts, policies.rollout_defaults(settings)),
        provisioning=provisioning,
        bench=BenchBundles(provisioning, library, journal.registry),
        site_wifi=SiteWifi(journal),
        pusher=LanPusher(journal, library),
        usb=usb,
        feed=FeedFollower(journal, library, settings.data_dir, settings.max_image_bytes),
        backup=SiteBackup(
            journal,
            fleet.store,
            settings.data_dir,
            config_file(settings),
            __version__,
            max_image_bytes=settings.max_image_bytes,
        ),
        mdns=mdns,
    )


def config_file(settings: Settings) -> Path | None:
    """The config file in force (a backup carries it), if there is one."""
    for source in settings.sources.values():
        if source.endswith(".toml"):
            return Path(source)
    try:
        return find_config_file(None, os.environ)
    except ConfigError:
        return None


def site_id(data_dir: Path) -> str:
    """A stable random id for this site, made on first start (tells two appliances' TXT records apart)."""
    path = data_dir / "site-id"
    if path.is_file():
        return path.read_text().strip()
    value = os.urandom(6).hex()
    temp = path.with_suffix(".tmp")
    temp.write_text(value + "\n")
    os.replace(temp, path)
    return value
