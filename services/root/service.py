"""The running service: one registry, one journal and one clock, both listeners, and every task, on one stack."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from functools import partial

from aiohttp import web

from appliance import __version__
from appliance.config import Settings
from appliance.timesync import synchronised
from services.adapters.admin_api.app import create_admin_app
from services.adapters.lan.mdns import MdnsService, MdnsSettings, MdnsStatus
from services.adapters.station_api.app import create_station_app
from services.core.eventbus import EventBus
from services.core.periodic import run_periodically
from services.domain.backup.site import sweep_scratch
from services.domain.clock import Timeline
from services.domain.clock.keeper import Timekeeper
from services.domain.commands import CommandQueue
from services.domain.firmware.store import FirmwareStore
from services.domain.fleet import StationReports
from services.domain.fleet.coalescing import CheckinCoalescer
from services.domain.fleet.removal import StationRemoval
from services.domain.fleet.retention import RetentionPolicy, run_retention
from services.domain.health import HealthMonitor
from services.domain.rollouts.engine import RolloutEngine
from services.root import assembly, policies
from services.root.assembly import Fleet
from services.root.listeners import Bound, StartupError, admin_listener, station_listener
from services.store.journal import Journal
from services.store.registry import Registry

__all__ = ["FIRMWARE_DIR", "REGISTRY_FILE", "StartupError", "StationmasterService"]

log = logging.getLogger(__name__)

REGISTRY_FILE = "registry.sqlite3"
FIRMWARE_DIR = "firmware"
# How often the service looks for commands to expire and held check-ins to write (reads, unless there is work).
HOUSEKEEPING_EVERY_S = 2.0
# Pending stations expire after days unseen: looking every ten minutes is soon enough (a read when none is due).
PENDING_EXPIRY_EVERY_S = 600.0


class NotStarted(RuntimeError):
    """A part of the service was asked for before `start()` (or after `stop()`)."""


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
        self.bus = EventBus()
        self.retention: RetentionPolicy = policies.retention_policy(settings)
        self._stack: AsyncExitStack | None = None
        self._fleet: Fleet | None = None
        self._bound: Bound | None = None
        self._admin: web.AppRunner | None = None

    async def __aenter__(self) -> StationmasterService:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Open the registry and the store, then start both listeners; raise StartupError if one is taken. Each
        part is stopped in the reverse of the order it started in, also when a later one fails to start."""
        async with AsyncExitStack() as stack:
            journal, store = await self._open(stack)
            fleet = await self._run_fleet(stack, journal, store)
            bound = await stack.enter_async_context(self._station_listener(fleet))
            mdns = await self._announce(stack, bound, journal)
            usb = assembly.build_usb(self.settings, fleet)
            info = assembly.service_info(self.settings, bound.port, bound.hosts, _url(self.settings, bound.port))
            parts = assembly.admin_parts(self.settings, fleet, info, usb, mdns)
            # Before the admin socket closes: live event streams end rather than hold its shutdown up.
            stack.callback(self.bus.close)
            admin = await stack.enter_async_context(admin_listener(create_admin_app(parts), self.settings.admin_socket))
            await stack.enter_async_context(_running(self._tasks(fleet, parts.feed.run)))
            await usb.start()
            stack.push_async_callback(usb.stop)  # first to stop: its jobs write to the registry as they end
            self._fleet, self._bound, self._admin = fleet, bound, admin
            self._stack = stack.pop_all()
        log.info(
            "Stationmaster %s serving stations on %s and the admin API on %s (data in %s)",
            __version__,
            self.listen_url,
            self.settings.admin_socket,
            self.settings.data_dir,
        )

    async def stop(self) -> None:
        """Stop listening, let in-flight requests finish, write held check-ins, then close the registry."""
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    async def _open(self, stack: AsyncExitStack) -> tuple[Journal, FirmwareStore]:
        """Sweep what an interrupted run left, open the registry (closed last) and make the one journal."""
        data_dir = self.settings.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        store = FirmwareStore(data_dir / FIRMWARE_DIR)
        if swept := await asyncio.to_thread(store.sweep_partials):
            log.warning("removed %d partial firmware file(s) left by an interrupted import", swept)
        if scratch := await asyncio.to_thread(sweep_scratch, data_dir):
            log.warning("removed %d scratch folder(s) left by a backup or restore that was cut short", scratch)
        registry = await Registry.open(data_dir / REGISTRY_FILE)
        stack.push_async_callback(registry.close)
        return Journal(registry, self.bus, self.clock), store

    async def _run_fleet(self, stack: AsyncExitStack, journal: Journal, store: FirmwareStore) -> Fleet:
        """Learn the clock before anything is stamped, then build the domain and start the rollouts."""
        probe = partial(asyncio.to_thread, synchronised, self.settings.clock_sync_flag)
        timekeeper = Timekeeper(journal, self.clock, probe)
        # Before anything is stamped: a stale clock must not date anything before what is stored.
        await timekeeper.start()
        fleet = assembly.build_fleet(self.settings, journal, store, timekeeper)
        timekeeper.holders += [journal.registry.checkin_buffer, fleet.rollouts]
        stack.push_async_callback(_flush_held, fleet)  # after the last request, before the registry closes
        # Before any station is heard: the rollouts must know which stations they hold.
        await fleet.rollouts.start()
        stack.push_async_callback(fleet.rollouts.stop)
        return fleet

    def _station_listener(self, fleet: Fleet) -> contextlib.AbstractAsyncContextManager[Bound]:
        settings = self.settings
        app = create_station_app(
            fleet.journal,
            fleet.reports,
            fleet.offers,
            fleet.library,
            commands=fleet.commands,
            metrics_source=assembly.metrics_source(settings, fleet),
            request_timeout_s=settings.request_timeout_s,
        )
        return station_listener(app, settings.http_host, settings.http_port, settings.request_timeout_s)

    async def _announce(self, stack: AsyncExitStack, bound: Bound, journal: Journal) -> MdnsStatus | None:
        """Answer mDNS for the bound station API, if the settings say so; what it announces, for the admin."""
        settings = self.settings
        if not settings.mdns:
            return None
        mdns_settings = MdnsSettings(
            hostname=settings.hostname,
            port=bound.port,
            site_id=await asyncio.to_thread(assembly.site_id, settings.data_dir),
            version=__version__,
            interfaces=settings.mdns_interfaces,
            extra_types=settings.mdns_browse_types,
            listening=bound.hosts,
        )
        mdns = MdnsService(mdns_settings, journal)
        await mdns.start()
        stack.push_async_callback(mdns.stop)
        return mdns.status

    def _tasks(self, fleet: Fleet, follow_feed: Callable[[], Awaitable[None]]) -> dict[str, Awaitable[None]]:
        """What runs for as long as the service does, by name."""
        every = HOUSEKEEPING_EVERY_S
        # Offline is told in whole poll intervals: looking four times an interval is soon enough.
        sweep_every = max(every, self.settings.poll_interval_s / 4)
        timekeeper = fleet.timekeeper
        return {
            "timekeeper": timekeeper.run(),
            "retention": run_retention(fleet.journal, self.retention, timekeeper.trust),
            "command expiry": run_periodically("command expiry", every, fleet.commands.expire_due),
            "writing held check-ins": run_periodically("writing held check-ins", every, fleet.coalescer.flush_if_due),
            "health sweep": run_periodically("health sweep", sweep_every, fleet.health_monitor.sweep),
            "pending expiry": run_periodically("pending expiry", PENDING_EXPIRY_EVERY_S, fleet.removal.expire),
            "release-feed": follow_feed(),
        }

    def _started(self) -> Fleet:
        if self._fleet is None:
            raise NotStarted("the service has not been started")
        return self._fleet

    @property
    def journal(self) -> Journal:
        """The one journal every part writes through."""
        return self._started().journal

    @property
    def registry(self) -> Registry:
        """The registry (SQLite)."""
        return self._started().journal.registry

    @property
    def timekeeper(self) -> Timekeeper:
        """What the service believes of the wall clock."""
        return self._started().timekeeper

    @property
    def reports(self) -> StationReports:
        """Check-ins and station events."""
        return self._started().reports

    @property
    def commands(self) -> CommandQueue:
        """Commands queued for stations."""
        return self._started().commands

    @property
    def coalescer(self) -> CheckinCoalescer:
        """The check-ins held to be written together."""
        return self._started().coalescer

    @property
    def health_monitor(self) -> HealthMonitor:
        """The sweep that finds silent stations."""
        return self._started().health_monitor

    @property
    def removal(self) -> StationRemoval:
        """Forgetting stations, and the cap on pending ones."""
        return self._started().removal

    @property
    def rollouts(self) -> RolloutEngine:
        """The staged rollouts."""
        return self._started().rollouts

    @property
    def station_port(self) -> int:
        """The station API's port as bound (the kernel's choice when the settings say 0)."""
        return self.settings.http_port if self._bound is None else self._bound.port

    @property
    def station_hosts(self) -> tuple[str, ...]:
        """The addresses the station API's sockets are bound to."""
        return () if self._bound is None else self._bound.hosts

    @property
    def station_url(self) -> str:
        """The base URL stations on this machine reach the station API at."""
        host = self.settings.http_host
        host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.station_port}"

    @property
    def listen_url(self) -> str:
        """The station API as bound (http://0.0.0.0:8080 on every interface): what the log and the status say."""
        return _url(self.settings, self.station_port)

    @property
    def applications(self) -> tuple[web.Application, ...]:
        """The running aiohttp apps, the station API first, then the admin API (for tools that list routes)."""
        if self._bound is None or self._admin is None:
            return ()
        return (self._bound.runner.app, self._admin.app)


def _url(settings: Settings, port: int) -> str:
    host = settings.http_host or "0.0.0.0"
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}"


async def _flush_held(fleet: Fleet) -> None:
    """Write the check-ins still held, once no request can add one."""
    try:
        await fleet.coalescer.flush()
    except Exception:
        log.exception("could not write the last held check-ins")


@contextlib.asynccontextmanager
async def _running(work: dict[str, Awaitable[None]]) -> AsyncIterator[None]:
    """Run each coroutine as a named task until the block ends, then cancel them all and wait."""
    tasks = [asyncio.ensure_future(coroutine) for coroutine in work.values()]
    for name, task in zip(work, tasks, strict=True):
        task.set_name(name)
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
