"""Simulated stations that speak the station contract exactly, for the demo, the tests and the benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time

from services.simulator.answers import ContractError
from services.simulator.behaviour import Behaviour
from services.simulator.fleet import SimulatedFleet
from services.simulator.identity import StationIdentity
from services.simulator.station import SimulatedStation
from services.simulator.stats import StationStats

__all__ = [
    "Behaviour",
    "ContractError",
    "SimulatedFleet",
    "SimulatedStation",
    "StationIdentity",
    "StationStats",
    "run_cli",
]

REPORT_EVERY_S = 10.0


def run_cli(*, url: str, count: int, interval_s: float = 10.0, duration_s: float | None = None, seed: int = 0) -> int:
    """`stationmaster simulate`: run until the duration ends or SIGINT/SIGTERM; 0 if nothing went wrong, else 1."""
    if count < 1 or interval_s <= 0 or (duration_s is not None and duration_s < 0):
        print("error: --count must be at least 1, --interval positive and --duration not negative", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_simulate(url, count, interval_s, duration_s, seed))
    return 1  # a second Ctrl-C while stopping: the summary could not be printed


async def _simulate(url: str, count: int, interval_s: float, duration_s: float | None, seed: int) -> int:
    fleet = SimulatedFleet(url=url, count=count, interval_s=interval_s, seed=seed)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Signal handlers can only be set from the main thread (a test may run this in another one).
        with contextlib.suppress(RuntimeError, ValueError, NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    started = time.monotonic()
    deadline = None if duration_s is None else started + duration_s
    await fleet.start()
    try:
        while not stop.is_set():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            try:
                await asyncio.wait_for(stop.wait(), REPORT_EVERY_S if left is None else min(REPORT_EVERY_S, left))
            except TimeoutError:
                if left is None or left > REPORT_EVERY_S:
                    _summary(fleet, started)
    finally:
        await fleet.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(RuntimeError, ValueError, NotImplementedError):
                loop.remove_signal_handler(signum)
    _summary(fleet, started)
    stats = fleet.stats
    if stats.last_error:
        print(f"simulate: last error: {stats.last_error}", file=sys.stderr)
    return 0 if stats.clean else 1


def _summary(fleet: SimulatedFleet, started: float) -> None:
    stats = fleet.stats
    print(
        f"simulate: {time.monotonic() - started:5.0f} s  {len(fleet.stations)} stations"
        f"  {stats.checkins} check-ins ok  {stats.errors} errors ({stats.connection_errors} connection)"
        f"  {stats.updates} updates  {stats.failed_updates} failed updates",
        file=sys.stderr,
        flush=True,
    )
