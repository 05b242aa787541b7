"""Benchmark: what a rollout costs the appliance, beside the same fleet just checking in, in one run.

Run: .venv/bin/python -m tests.benchmarks.rollouts [--stations 100] [--seconds 20]
`serve` in its own process and N simulated ESP32 stations (one check-in and one /ota poll a second each):
first for --seconds with nothing to do, then through a whole rollout of a new image (waves 1, 25 %, rest;
a 3 s soak). Printed: bytes written to storage (/proc/PID/io) and CPU seconds of `serve`, per minute and per
1,000 check-ins, in both phases, and the ratio; then what the rollout left in the registry.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path

from appliance.contract.client import AdminClient
from services.root.service import REGISTRY_FILE
from services.simulator import Behaviour, SimulatedFleet
from tests.benchmarks.procstats import cpu_seconds, written_bytes
from tests.conftest import ServeProcess
from tests.imagefactory import build_image
from tests.rollouts.conftest import open_tap

INTERVAL_S = 1.0


async def measure(stations: int, seconds: float) -> None:
    """Run both phases and print the figures."""
    with tempfile.TemporaryDirectory(prefix="stationmaster-bench-") as scratch:
        serve = ServeProcess(Path(scratch))
        serve.start()
        try:
            await _phases(serve, stations, seconds)
        finally:
            serve.stop()


async def _phases(serve: ServeProcess, count: int, seconds: float) -> None:
    assert serve.proc is not None
    pid = serve.proc.pid
    steady = {index: Behaviour(signal_dbm=-60) for index in range(count)}
    fleet = SimulatedFleet(
        url=serve.url, count=count, interval_s=INTERVAL_S, seed=5, crash_rate=0, chips=["esp32"], behaviours=steady
    )
    async with AdminClient(serve.socket) as admin, open_tap(admin) as tap, fleet:
        await tap.wait_for(lambda _: len(tap.of("station_discovered")) >= count, within=120)
        for station in fleet.stations:
            await admin.accept(station.mac)
        await tap.wait_for(lambda _: len(tap.of("station_token_issued")) >= count, within=120)
        image = await admin.import_image(build_image("esp32", project="sim-sensor", version="1.1.0"), "new.bin")

        idle = await _phase(pid, fleet, lambda: asyncio.sleep(seconds))

        async def rollout() -> None:
            started = await admin.start_rollout(image["sha256"], waves=[1, "25%", "rest"], soak_s=3, timeout_s=60)
            await tap.first("rollout_completed", within=600, rollout=started["id"])

        busy = await _phase(pid, fleet, rollout)
        done = (await admin.rollouts())[0]
    print(f"{count} stations, a check-in and an /ota poll each every {INTERVAL_S:g} s")
    print(f"{'phase':<22}{'seconds':>9}{'check-ins':>11}{'KiB written':>13}{'KiB/1k ci':>11}{'CPU s/1k ci':>13}")
    for name, (elapsed, checkins, written, cpu) in (("checking in only", idle), ("through a rollout", busy)):
        per = 1000 / max(checkins, 1)
        kib = written / 1024
        print(f"{name:<22}{elapsed:9.1f}{checkins:11d}{kib:13.0f}{kib * per:11.1f}{cpu * per:13.2f}")
    ratio_w = (busy[2] / max(busy[1], 1)) / max(idle[2] / max(idle[1], 1), 1e-9)
    ratio_c = (busy[3] / max(busy[1], 1)) / max(idle[3] / max(idle[1], 1), 1e-9)
    print(f"per check-in, a rollout costs x{ratio_w:.2f} the writes and x{ratio_c:.2f} the CPU of checking in only")
    extra = busy[2] - idle[2] / idle[0] * busy[0]
    print(f"the rollout ({done['state']}, {done['counts']}) wrote about {extra / 1024:.0f} KiB beyond the check-ins,")
    print(f"{extra / 1024 / count:.1f} KiB per station updated")
    db = sqlite3.connect(serve.data_dir / REGISTRY_FILE)
    (events,) = db.execute("SELECT count(*) FROM events WHERE kind LIKE 'rollout_%'").fetchone()
    db.close()
    print(f"rollout events stored: {events} ({events / count:.1f} per station)")


async def _phase(pid: int, fleet: SimulatedFleet, run: object) -> tuple[float, int, int, float]:
    """(seconds, check-ins, bytes written, CPU seconds) of `serve` while `run()` runs."""
    assert callable(run)
    checkins, written, cpu, started = fleet.stats.checkins, written_bytes(pid), cpu_seconds(pid), time.monotonic()
    await run()
    return (
        time.monotonic() - started,
        fleet.stats.checkins - checkins,
        written_bytes(pid) - written,
        cpu_seconds(pid) - cpu,
    )


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stations", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0)
    options = parser.parse_args()
    asyncio.run(measure(options.stations, options.seconds))


if __name__ == "__main__":
    main()
