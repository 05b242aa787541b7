"""The running service: registry, store, station HTTP on TCP and the admin API on a unix socket."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
from collections.abc import Callable
from functools import partial
from pathlib import Path

from aiohttp import web

from appliance import __version__
from appliance.config import ConfigError, Settings, find_config_file
from appliance.timesync import synchronised
from services.adapters.admin_api.app import create_admin_app
from services.adapters.admin_api.backup_routes import BACKUP
from services.adapters.admin_api.feed_routes import FEED
from services.adapters.admin_api.status import ServiceInfo
from services.adapters.lan.mdns import MdnsService, MdnsSettings, MdnsStatus
from services.adapters.station_api.app import create_station_app
from services.adapters.station_api.metrics import MetricsSource
from services.adapters.uplink import FeedFollower
from services.adapters.usb import UsbOnboarding, UsbSettings
from services.adapters.usb.provisioning import UsbProvisioning
from services.core.eventbus import EventBus
from services.core.interfaces import why_unannounced
from services.core.periodic import run_periodically
from services.core.rollout_model import RolloutSettings
from services.domain.backup import SiteBackup
from services.domain.backup.site import sweep_scratch
from services.domain.clock import Timeline
from services.domain.clock.keeper import Timekeeper
from services.domain.commands import CommandQueue
from services.domain.firmware.store import FirmwareStore
from services.domain.fleet import (
    Administration,
    FirmwareLibrary,
    FirmwareOffers,
    Journal,
    ReportPolicy,
    StationReports,
)
from services.domain.fleet.coalescing import CheckinCoalescer
from services.domain.fleet.removal import PendingPolicy, StationRemoval
from services.domain.fleet.retention import RetentionPolicy, run_retention
from services.domain.fleet.sketches import SketchRecognizer
from services.domain.health import CheckinHealth, HealthMonitor, HealthPolicy, Presence, SignalPolicy
from services.domain.rollouts.actions import RolloutActions
from services.domain.rollouts.engine import RolloutEngine
from services.store.registry import Registry

log = logging.getLogger(__name__)

REGISTRY_FILE = "registry.sqlite3"
FIRMWARE_DIR = "firmware"
# How often the service looks for commands to expire and held check-ins to write (reads, unless there is work).
HOUSEKEEPING_EVERY_S = 2.0
# Pending stations expire after days unseen: looking every ten minutes is soon enough (a read when none is due).
PENDING_EXPIRY_EVERY_S = 600.0


LISTEN_BACKLOG = 1024


class StartupError(Exception):
    """The service cannot start; the message says what to change."""


class StationmasterService:
    """One site's service; `start()` then `stop()`, or `async with`."""

    def __init__(self, settings: Settings, clock: Callable[[], float] | None = None) -> None:
        self.settings = settings
        # Durations are measured on the monotonic clock, told in wall-clock time. A benchmark passes its own
        # clock to live a month in minutes: it is then both, and never steps (a test may pass a whole Timeline).
        if clock is None or isinstance(clock, Timeline):
            self.clock = clock or Timeline()
        else:
            self.clock = Timeline(clock, clock)
        self.timekeeper: Timekeeper | None = None
        self.bus = EventBus()
        self.registry: Registry | None = None
        self.reports: StationReports | None = None
        self.commands: CommandQueue | None = None
        self.coalescer: CheckinCoalescer | None = None
        self.health_monitor: HealthMonitor | None = None
        self.removal: StationRemoval | None = None
        self.presence = Presence(settings.poll_interval_s, settings.offline_after_missed)
        self._runners: list[web.AppRunner] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.station_port = settings.http_port
        self.station_hosts: tuple[str, ...] = ()  # the addresses the station API's sockets are bound to
        self.mdns: MdnsService | None = None
        self.rollouts: RolloutEngine | None = None
        self._mdns_status: list[MdnsStatus] = []  # filled once mDNS is up; the admin app reads it
        self.usb: UsbOnboarding | None = None
        self.feed: FeedFollower | None = None

    async def __aenter__(self) -> StationmasterService:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def station_url(self) -> str:
        """The base URL stations on this machine reach the station API at."""
        host = self.settings.http_host
        host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.station_port}"

    @property
    def listen_url(self) -> str:
        """The station API as bound (http://0.0.0.0:8080 on every interface): what the log and the status say."""
        host = self.settings.http_host or "0.0.0.0"
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.station_port}"

    @property
    def applications(self) -> tuple[web.Application, ...]:
        """The running aiohttp apps, the station API first, then the admin API (for tools that list routes)."""
        return tuple(runner.app for runner in self._runners)

    async def start(self) -> None:
        """Open the registry and the store, then start both listeners; raise StartupError if one is taken."""
        settings = self.settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = FirmwareStore(settings.data_dir / FIRMWARE_DIR)
        swept = await asyncio.to_thread(store.sweep_partials)
        if swept:
            log.warning("removed %d partial firmware file(s) left by an interrupted import", swept)
        if scratch := await asyncio.to_thread(sweep_scratch, settings.data_dir):
            log.warning("removed %d scratch folder(s) left by a backup or restore that was cut short", scratch)
        self.registry = await Registry.open(settings.data_dir / REGISTRY_FILE)
        try:
            # Before anything is stamped: a stale clock must not date anything before what is stored.
            self.timekeeper = Timekeeper(
                Journal(self.registry, self.bus, self.clock),
                self.clock,
                partial(asyncio.to_thread, synchronised, settings.clock_sync_flag),
            )
            await self.timekeeper.start()
            await self._start_listeners(store)
        except BaseException:
            await self.stop()
            raise
        assert self.rollouts is not None
        self.timekeeper.holders += [self.registry.checkin_buffer, self.rollouts]
        self._tasks.append(asyncio.create_task(self.timekeeper.run(), name="timekeeper"))
        self._tasks.append(
            asyncio.create_task(
                run_retention(Journal(self.registry, self.bus, self.clock), self.retention, self.timekeeper.trust),
                name="retention",
            )
        )
        self._start_housekeeping()
        if self.feed is not None:
            self._tasks.append(asyncio.create_task(self.feed.run(), name="release-feed"))
        if settings.mdns:
            self.mdns = MdnsService(
                MdnsSettings(
                    hostname=settings.hostname,
                    port=self.station_port,
                    site_id=await asyncio.to_thread(site_id, settings.data_dir),
                    version=__version__,
                    interfaces=settings.mdns_interfaces,
                    extra_types=settings.mdns_browse_types,
                    listening=self.station_hosts,
                ),
                Journal(self.registry, self.bus),
            )
            try:
                await self.mdns.start()
            except BaseException:
                await self.stop()
                raise
            self._mdns_status.append(self.mdns.status)
        if self.usb is not None:
            try:
                await self.usb.start()
            except BaseException:
                await self.stop()
                raise
        log.info(
            "Stationmaster %s serving stations on %s and the admin API on %s (data in %s)",
            __version__,
            self.listen_url,
            settings.admin_socket,
            settings.data_dir,
        )

    @property
    def retention(self) -> RetentionPolicy:
        """How long history is kept, from the settings."""
        settings = self.settings
        return RetentionPolicy(
            checkin_days=settings.checkin_retention_days,
            event_days=settings.event_retention_days,
            event_rows=settings.event_retention_rows,
            hourly_days=settings.checkin_hourly_days,
            daily_days=settings.checkin_daily_days,
        )

    async def stop(self) -> None:
        """Stop listening, let in-flight requests finish, write held check-ins, then close the registry."""
        if self.usb is not None:
            await self.usb.stop()  # first: its jobs write to the registry as they end
            self.usb = None
        if self.mdns is not None:
            await self.mdns.stop()
            self.mdns = None
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.rollouts is not None:
            await self.rollouts.stop()
        self.bus.close()
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
        if self.coalescer is not None and self.registry is not None:
            try:
                await self.coalescer.flush()
            except Exception:
                log.exception("could not write the last held check-ins")
        with contextlib.suppress(FileNotFoundError):
            if self.settings.admin_socket.is_socket():
                self.settings.admin_socket.unlink()
        if self.registry is not None:
            await self.registry.close()
            self.registry = None

    async def _start_listeners(self, store: FirmwareStore) -> None:
        assert self.registry is not None
        assert self.timekeeper is not None
        settings = self.settings
        journal = Journal(self.registry, self.bus, self.clock)
        # Before any station is heard: the rollouts must know which stations they hold.
        self.rollouts = RolloutEngine(journal)
        await self.rollouts.start()
        self.commands = CommandQueue(journal, settings.command_ttl_s)
        self.coalescer = CheckinCoalescer(
            journal,
            flush_interval_s=settings.checkin_flush_interval_s,
            history_interval_s=settings.checkin_history_interval_s,
            # A station a rollout holds has every check-in written and judged: its outcome is told from them.
            must_write=self.rollouts.holds,
        )
        health = CheckinHealth(
            HealthPolicy(
                signal=SignalPolicy(threshold_dbm=settings.weak_signal_dbm),
                presence=self.presence,
                reboot_loop_restarts=settings.reboot_loop_restarts,
                reboot_loop_window_s=settings.reboot_loop_window_s,
            )
        )
        self.health_monitor = HealthMonitor(journal, self.presence, lambda: self.clock.started_at)
        self.removal = StationRemoval(
            journal,
            PendingPolicy(max_pending=settings.max_pending_stations, expiry_days=settings.pending_expiry_days),
        )
        reports = self.reports = StationReports(
            journal,
            ReportPolicy(
                poll_interval_s=settings.poll_interval_s,
                checkin_history_interval_s=settings.checkin_history_interval_s,
            ),
            observer=self.rollouts,
            health=health,
            commands=self.commands,
            coalescer=self.coalescer,
            removal=self.removal,
        )
        self.removal.also_forget(reports.forget)
        self.removal.also_forget(self.rollouts.forget)
        library = FirmwareLibrary(journal, store, settings.max_image_bytes)
        offers = FirmwareOffers(
            journal,
            self.rollouts,
            settings.maintenance_window or None,
            reports=reports,
            sketches=SketchRecognizer(self.registry, store),
        )
        metrics = (
            MetricsSource(
                self.registry,
                self.presence,
                self.clock,
                self.coalescer,
                stations=settings.metrics_stations,
                allow=settings.metrics_allow,
            )
            if settings.metrics
            else None
        )
        station_app = create_station_app(
            journal,
            reports,
            offers,
            library,
            commands=self.commands,
            metrics_source=metrics,
            request_timeout_s=settings.request_timeout_s,
        )
        # keepalive_timeout also bounds how long a new connection may take to send its headers; after an
        # early answer (413, 408) the rest of a body is read and dropped for at most lingering_time.
        station_runner = web.AppRunner(
            station_app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=10,
            keepalive_timeout=settings.request_timeout_s,
            lingering_time=min(10.0, settings.request_timeout_s),
        )
        await station_runner.setup()
        self._runners.append(station_runner)
        # A site's stations come back together after a power cut or an outage of the access point: a backlog of
        # aiohttp's default 128 drops the handshakes of the rest, and each is retried a second and more later.
        site = web.TCPSite(
            station_runner, settings.http_host, settings.http_port, reuse_address=True, backlog=LISTEN_BACKLOG
        )
        try:
            await site.start()
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartupError(
                    f"port {settings.http_port} on {settings.http_host} is already in use by another program;"
                    " stop it or choose another port with --http-port"
                ) from None
            raise StartupError(f"cannot listen on {settings.http_host}:{settings.http_port}: {exc.strerror}") from None
        bound = _bound(station_runner)
        self.station_port = bound[0][1] if bound else settings.http_port
        self.station_hosts = tuple(dict.fromkeys(host for host, _ in bound))

        info = ServiceInfo(
            version=__version__,
            station_port=self.station_port,
            station_url=self.listen_url,
            hostname=settings.hostname,
            poll_interval_s=settings.poll_interval_s,
            offline_after_missed=settings.offline_after_missed,
            http_host=settings.http_host,
            mdns_enabled=settings.mdns and why_unannounced(self.station_hosts) is None,
        )
        self.usb = UsbOnboarding(
            journal,
            library,
            UsbProvisioning(journal),
            UsbSettings(
                patterns=settings.usb_ports,
                poll_s=settings.usb_poll_ms / 1000,
                identify=settings.usb_identify,
                improv_probe_s=settings.usb_improv_probe_ms / 1000,
                improv_timeout_s=settings.usb_improv_timeout_s,
                checkin_wait_s=settings.usb_checkin_wait_s,
            ),
        )
        admin_app = create_admin_app(
            self.registry,
            Administration(journal, self.removal),
            library,
            reports,
            self.bus,
            info,
            settings.max_image_bytes,
            self._mdns_status,
            self.commands,
            self.usb,
            rollouts=RolloutActions(journal, self.rollouts, rollout_defaults(settings)),
            timekeeper=self.timekeeper,
        )
        self.feed = FeedFollower(journal, library, settings.data_dir, settings.max_image_bytes)
        admin_app[FEED] = self.feed
        admin_app[BACKUP] = SiteBackup(
            journal,
            store,
            settings.data_dir,
            _config_file(settings),
            __version__,
            max_image_bytes=settings.max_image_bytes,
        )
        admin_runner = web.AppRunner(admin_app, access_log=None, handle_signals=False, shutdown_timeout=5)
        await admin_runner.setup()
        self._runners.append(admin_runner)
        await _claim_socket_path(settings.admin_socket)
        await web.UnixSite(admin_runner, str(settings.admin_socket)).start()
        # 0660: whoever is in the socket's group is an admin; SSH is the authentication.
        os.chmod(settings.admin_socket, 0o660)

    def _start_housekeeping(self) -> None:
        assert self.commands is not None
        assert self.coalescer is not None
        assert self.health_monitor is not None
        assert self.removal is not None
        every = HOUSEKEEPING_EVERY_S
        # Offline is told in whole poll intervals: looking four times an interval is soon enough.
        sweep_every = max(every, self.settings.poll_interval_s / 4)
        for name, interval, step in (
            ("command expiry", every, self.commands.expire_due),
            ("writing held check-ins", every, self.coalescer.flush_if_due),
            ("health sweep", sweep_every, self.health_monitor.sweep),
            ("pending expiry", PENDING_EXPIRY_EVERY_S, self.removal.expire),
        ):
            self._tasks.append(asyncio.create_task(run_periodically(name, interval, step), name=name))


def rollout_defaults(settings: Settings) -> RolloutSettings:
    """The site's defaults for a new rollout, from the configuration."""
    return RolloutSettings(
        min_rssi=settings.rollout_min_rssi,
        min_free_heap=settings.rollout_min_free_heap,
        downloads_per_ap=settings.rollout_downloads_per_ap,
        maintenance_window=settings.maintenance_window.strip() or None,
    )


async def _claim_socket_path(path: Path) -> None:
    """Remove a stale socket left by a crash; refuse if a live service still answers on it."""
    if not await asyncio.to_thread(_is_socket_or_absent, path):
        raise StartupError(f"{path} exists and is not a socket; remove it or choose another --admin-socket")
    try:
        _, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), 2)
    except (ConnectionRefusedError, FileNotFoundError, TimeoutError):
        await asyncio.to_thread(path.unlink, True)
        return
    writer.close()
    raise StartupError(f"another Stationmaster service is already listening on {path}")


def _is_socket_or_absent(path: Path) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.is_socket() or not (path.exists() or path.is_symlink())


def _config_file(settings: Settings) -> Path | None:
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


def _bound(runner: web.AppRunner) -> list[tuple[str, int]]:
    """The (address, port) of each TCP socket the runner's sites are bound to (the port differs when asked for 0)."""
    bound = []
    for server in runner.sites:
        sock_server = getattr(server, "_server", None)
        for sock in getattr(sock_server, "sockets", None) or ():
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                host, port = sock.getsockname()[:2]
                bound.append((str(host), int(port)))
    return bound
