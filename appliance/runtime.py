"""Run the service in this process: logging, signals, exit codes; and the demo with simulated stations."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import sys
import tempfile
from pathlib import Path

from appliance.config import Settings
from appliance.sdnotify import SystemdNotifier
from services.service import StartupError, StationmasterService

log = logging.getLogger("stationmaster")

EXIT_OK = 0
EXIT_STARTUP = 3


def serve(settings: Settings) -> int:
    """Run `stationmaster serve` until SIGTERM or SIGINT; return the process exit code."""
    setup_logging(settings.log_level)
    return asyncio.run(_run(settings, demo_count=0))


def run(settings: Settings) -> int:
    """`stationmaster run`: the service in this process, with the TUI attached; both end together."""
    setup_logging(settings.log_level, log_file=settings.data_dir / "stationmaster.log")
    return asyncio.run(_run_with_tui(settings, demo_count=0))


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


async def _run(settings: Settings, demo_count: int) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
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
    notifier.notify(READY=1, STATUS=f"serving stations on {service.station_url}")
    extras.append(asyncio.create_task(notifier.run_watchdog(lambda: _healthy(service)), name="watchdog"))
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
