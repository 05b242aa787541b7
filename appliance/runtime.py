"""Run the service in this process: logging, signals, exit codes; and the demo with simulated stations."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import resource
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

from appliance.config import Settings
from appliance.memory import keep_giving_back
from appliance.sdnotify import SystemdNotifier
from services.core.logsummary import LogSummary
from services.root.service import StartupError, StationmasterService

log = logging.getLogger("stationmaster")

EXIT_OK = 0
EXIT_STARTUP = 3


def serve(settings: Settings) -> int:
    """Run `stationmaster serve` until SIGTERM or SIGINT; return the process exit code."""
    setup_logging(settings.log_level)
    raise_open_file_limit()
    return asyncio.run(_run(settings, demo_count=0))


def run(settings: Settings) -> int:
    """`stationmaster run`: the service in this process, with the TUI attached; both end together."""
    setup_logging(settings.log_level, log_file=settings.data_dir / "stationmaster.log")
    raise_open_file_limit()
    return asyncio.run(_run_with_tui(settings, demo_count=0))


def raise_open_file_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit; return the limit now in force.

    Every station connection is a file descriptor. The usual soft limit (1,024) would let a few hundred
    stalled clients keep every other station out; systemd's hard limit is far higher, and costs nothing
    until used.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft == hard:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as exc:
        log.warning("could not raise the open-file limit from %d to %d: %s", soft, hard, exc)
        return soft
    log.debug("open-file limit raised from %d to %d", soft, hard)
    return hard


def demo(settings: Settings, count: int, *, tui: bool = False) -> int:
    """Run the service and `count` simulated stations in a throw-away data directory (with the TUI, or narrated)."""
    with tempfile.TemporaryDirectory(prefix="stationmaster-demo-") as scratch:
        root = Path(scratch)
        # The simulated stations live in this process: unless told otherwise, listen on loopback only.
        host = settings.http_host if "http_host" in settings.sources else "127.0.0.1"
        demo_settings = dataclasses.replace(
            settings, data_dir=root / "data", admin_socket=root / "admin.sock", mdns=False, http_host=host
        )
        if tui:
            setup_logging(settings.log_level, log_file=root / "stationmaster.log")
            return asyncio.run(_run_with_tui(demo_settings, demo_count=count))
        setup_logging(settings.log_level)
        print(f"demo: data in {root}; admin socket {demo_settings.admin_socket}", file=sys.stderr)
        print(
            f"demo: in another shell: STATIONMASTER_ADMIN_SOCKET={demo_settings.admin_socket} stationmaster stations",
            file=sys.stderr,
        )
        return asyncio.run(_run(demo_settings, demo_count=count))


def setup_logging(level: str, log_file: Path | None = None) -> None:
    """Log to stderr (no timestamps under systemd: the journal adds them), or to a file while the TUI is up."""
    under_journal = "JOURNAL_STREAM" in os.environ or "INVOCATION_ID" in os.environ
    fmt = "%(levelname)s %(name)s: %(message)s" if under_journal else "%(asctime)s %(levelname)s %(name)s: %(message)s"
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        logging.basicConfig(level=level.upper(), format=fmt, filename=log_file, force=True)
    else:
        logging.basicConfig(level=level.upper(), format=fmt, stream=sys.stderr, force=True)
    quiet_libraries()


def quiet_libraries() -> None:
    """Keep the libraries' chatter (and the secrets in it) out of the log, even at --log-level debug."""
    # aiohttp's access log would name every station poll; the registry's events already say what matters.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # aiosqlite's debug lines are every statement with its parameters: Wi-Fi passphrases and token hashes.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, MalformedRequestFilter) for f in server_log.filters):
        server_log.addFilter(MalformedRequestFilter())


class MalformedRequestFilter(logging.Filter):
    """Keep aiohttp's traceback for each malformed request (already answered 400) out of the journal.

    Garbage from a broken or hostile client is its problem, not the appliance's; a flood of it must not
    become a flood of SD-card writes. Errors in the appliance itself are still logged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, HttpProcessingError) and 400 <= (exc.code or 400) < 500)


class AcceptErrorReport:
    """A loop exception handler that reports running out of file descriptors once a minute, not hundreds a second.

    asyncio logs a traceback for every connection it fails to accept; under a flood of connections that
    would write megabytes to the journal (and the SD card) while saying one thing.
    """

    def __init__(self) -> None:
        self._summary = LogSummary(log, logging.WARNING)

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if not str(context.get("message", "")).startswith("socket.accept() out of system resource"):
            loop.default_exception_handler(context)
            return
        self._summary.note(
            "cannot accept new connections, every file descriptor is in use: %s", context.get("exception")
        )


async def _run(settings: Settings, demo_count: int) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(AcceptErrorReport())
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    service = StationmasterService(settings)
    try:
        await service.start()
    except StartupError as exc:
        log.error("%s", exc)
        return EXIT_STARTUP
    extras: list[asyncio.Task[None]] = []
    # Under systemd (Type=notify) the unit is "started" only now that both listeners answer.
    notifier = SystemdNotifier()
    notifier.notify(READY=1, STATUS=f"serving stations on {service.listen_url}")
    extras.append(asyncio.create_task(notifier.run_watchdog(lambda: _healthy(service)), name="watchdog"))
    extras.append(asyncio.create_task(keep_giving_back(), name="give-back-freed-memory"))
    try:
        if demo_count:
            from appliance.demo import run_demo_fleet

            extras.append(asyncio.create_task(run_demo_fleet(service, demo_count, stop)))
        await stop.wait()
        log.info("stopping")
        notifier.notify(STOPPING=1, STATUS="stopping")
    finally:
        for task in extras:
            task.cancel()
        await asyncio.gather(*extras, return_exceptions=True)
        await service.stop()
    return EXIT_OK


async def _healthy(service: StationmasterService) -> None:
    """Raise unless the event loop and the registry both answer (what the watchdog vouches for)."""
    if service.registry is None:
        raise RuntimeError("the registry is closed")
    await service.registry.db.fetch_one("SELECT 1")


async def _run_with_tui(settings: Settings, demo_count: int) -> int:
    from tui.app import StationmasterApp

    service = StationmasterService(settings)
    try:
        await service.start()
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_STARTUP
    stop = asyncio.Event()
    extras: list[asyncio.Task[None]] = []
    try:
        if demo_count:
            from appliance.demo import run_demo_fleet

            extras.append(asyncio.create_task(run_demo_fleet(service, demo_count, stop, narrate=False)))
        await StationmasterApp(settings.admin_socket).run_async()
    finally:
        stop.set()
        for task in extras:
            task.cancel()
        await asyncio.gather(*extras, return_exceptions=True)
        await service.stop()
    return EXIT_OK
