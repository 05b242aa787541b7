"""Simulated stations that speak the station contract exactly, for the demo, the tests and benchmarks."""

from __future__ import annotations

import asyncio
import signal
import sys
import time

from services.simulator.fleet import SimulatedFleet
from services.simulator.station import Behaviour, SimulatedStation, StationStats

__all__ = ["Behaviour", "SimulatedFleet", "SimulatedStation", "StationStats", "run_cli"]

_REPORT_EVERY_S = 10.0


def run_cli(*, url: str, count: int, interval_s: float = 10.0, duration_s: float | None = None, seed: int = 0) -> int:
    """`stationmaster simulate`: run until the duration ends or SIGINT/SIGTERM; 0 if nothing failed."""
    if count < 1 or interval_s <= 0:
        print("error: --count must be at least 1 and --interval positive", file=sys.stderr)
        return 2
    return asyncio.run(_run(url, count, interval_s, duration_s, seed))


async def _run(url: str, count: int, interval_s: float, duration_s: float | None, seed: int) -> int:
    fleet = SimulatedFleet(url=url, count=count, interval_s=interval_s, seed=seed)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    started = time.monotonic()
    await fleet.start()
    try:
        while not stop.is_set():
            left = None if duration_s is None else duration_s - (time.monotonic() - started)
            if left is not None and left <= 0:
                break
            wait = _REPORT_EVERY_S if left is None else min(_REPORT_EVERY_S, left)
            try:
                await asyncio.wait_for(stop.wait(), wait)
            except TimeoutError:
                _summary(fleet, started)
    finally:
        await fleet.stop()
    _summary(fleet, started)
    stats = fleet.stats
    if stats.errors:
        print(f"last error: {stats.last_error}", file=sys.stderr)
    return 0 if stats.errors == 0 else 1


def _summary(fleet: SimulatedFleet, started: float) -> None:
    stats = fleet.stats
    print(
        f"simulate: {time.monotonic() - started:5.0f} s  {len(fleet.stations)} stations  {stats.checkins} check-ins"
        f"  {stats.errors} errors  {stats.updates} updates",
        file=sys.stderr,
        flush=True,
    )
