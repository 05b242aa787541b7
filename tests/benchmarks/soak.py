"""Soak: `serve` in a child process under thousands of simulated stations; errors and memory over time.

Run: .venv/bin/python -m tests.benchmarks.soak --stations 5000 --minutes 10
The stations are accepted and tagged by chip as they appear (as an admin would), fetch their config with
their token and poll /ota with their stock client: each takes the ~1 MiB image released for its chip
before the clock starts (the warm-up ends when every station runs it), and another released halfway
through. Resident memory is sampled every minute. It passes
(exit 0) with zero errors, every station on the last release, and memory at the end within 10 % of its
value at minute 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

from appliance.contract.client import AdminClient
from appliance.memory import TRIM_INTERVAL_S
from services.simulator import SimulatedFleet
from services.simulator.identity import SIM_CHIPS, SIM_PROJECT
from tests.benchmarks.procstats import cpu_seconds, machine, rss_mib, written_bytes
from tests.conftest import ServeProcess, loose
from tests.imagefactory import build_image

TOLERANCE = 0.10
RELEASES = ("2.0.0", "3.0.0")  # the first from the start, the second halfway through


async def accept_as_they_come(socket: Path) -> None:
    """Accept and tag (by chip) every station the moment it is discovered, as an admin watching the TUI would.

    Thousands of stations appearing at once outrun this admin: when the stream says it dropped messages,
    the pending stations are fetched and accepted from the list, as the TUI reloads its own.
    """
    async with AdminClient(socket) as admin:

        async def admit(mac: str, chip: str) -> None:
            await admin.accept(mac)
            await admin.tag(mac, add=[f"soak-{chip}"])

        async for message in admin.stream_events():
            if message["kind"] == "station_discovered":
                await admit(
                    message["mac"], message["data"].get("chip") or loose(await admin.station(message["mac"]))["chip"]
                )
            elif message["kind"] == "stream_gap":
                for station in map(loose, await admin.stations()):
                    if station["status"] == "pending":
                        await admit(station["mac"], station["chip"])


async def release(socket: Path, version: str) -> None:
    """A new image for every chip, assigned to the chip's tag: every station updates at its next poll."""
    async with AdminClient(socket) as admin:
        for assignment in await admin.assignments():
            await admin.unassign(assignment["id"])
        for chip in SIM_CHIPS:
            image = build_image(chip, project=SIM_PROJECT, version=version, payload_size=1_000_000)
            imported = await admin.import_image(image, f"{chip}-{version}.bin", project=SIM_PROJECT, version=version)
            await admin.assign(imported["sha256"], tag=f"soak-{chip}")


async def warm_up(fleet: SimulatedFleet) -> float:
    """Wait until the fleet is in its steady state (each station accepted, on its token, on the first release,
    and the release's download wave over).

    Memory is compared from minute 1 on: before that point it grows with every station the appliance gets
    to know, which is no leak. Returns how long that took.
    """
    began = time.monotonic()
    # Reading the simulator's own counters once a second: thousands of stations have no one event to await.
    while not all(s.running_version == RELEASES[0] and s.stats.config_fetches for s in fleet.stations):  # noqa: ASYNC110
        await asyncio.sleep(1)
    # Then the fan-out's leftovers go as they would at a site: freed heap is given back within the minute.
    await asyncio.sleep(TRIM_INTERVAL_S)
    return time.monotonic() - began


async def soak(stations: int, minutes: float, interval_s: float) -> int:
    scratch = Path(tempfile.mkdtemp(prefix="stationmaster-soak-", dir=Path.cwd()))
    serve = ServeProcess(scratch)
    print(f"soak: {stations:,} stations checking in every {interval_s:g} s for {minutes:g} min; {machine()}")
    await asyncio.to_thread(serve.start)
    fleet = SimulatedFleet(url=serve.url, count=stations, interval_s=interval_s, seed=5)
    admin_task = asyncio.create_task(accept_as_they_come(serve.socket))
    samples: list[tuple[float, float]] = []
    started = time.monotonic()
    cpu_before, written_before = cpu_seconds(serve.pid), written_bytes(serve.pid)
    try:
        await release(serve.socket, RELEASES[0])
        await fleet.start()
        warmed = await warm_up(fleet)
        print(f"soak: warmed up in {warmed:.0f} s: every station accepted, on its token and on {RELEASES[0]}, settled")
        # The soak's own minutes (and its CPU and disk figures) start now.
        started = time.monotonic()
        cpu_before, written_before = cpu_seconds(serve.pid), written_bytes(serve.pid)
        for minute in range(1, int(minutes) + 1):
            await asyncio.sleep(started + 60 * minute - time.monotonic())
            samples.append((minute, rss_mib(serve.pid)))
            stats = fleet.stats
            print(
                f"soak: minute {minute:3d}  rss {samples[-1][1]:6.1f} MiB  {stats.checkins:,} check-ins"
                f"  {stats.updates:,} updates  {stats.errors} errors",
                flush=True,
            )
            if minute == int(minutes) // 2:
                await release(serve.socket, RELEASES[1])
    finally:
        await fleet.stop()
        admin_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await admin_task
        elapsed = time.monotonic() - started
        cpu = 100 * (cpu_seconds(serve.pid) - cpu_before) / elapsed
        written = written_bytes(serve.pid) - written_before
        code = serve.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    return report(fleet, samples, cpu, written, code)


def report(fleet: SimulatedFleet, samples: list[tuple[float, float]], cpu: float, written: int, code: int) -> int:
    """Print the verdict; 0 if it passed."""
    stats = fleet.stats
    updated = sum(1 for station in fleet.stations if station.running_version == RELEASES[-1])
    first, last = samples[0][1], samples[-1][1]
    growth = (last - first) / first
    print(
        f"soak: {stats.checkins:,} check-ins, {stats.ota_polls:,} OTA polls, {stats.config_fetches:,} config fetches"
        " (the warm-up's included)"
    )
    print(f"soak: {updated:,} of {len(fleet.stations):,} stations run {RELEASES[-1]} ({stats.updates:,} updates)")
    print(f"soak: {stats.restarts} simulated crash restarts, {stats.interrupted_downloads} interrupted downloads")
    print(f"soak: serve used {cpu:.1f} % of a core and wrote {written / 1024 / 1024:,.1f} MiB to disk")
    print(f"soak: errors {stats.errors} ({stats.connection_errors} connection), failed updates {stats.failed_updates}")
    if stats.last_error:
        print(f"soak: last error: {stats.last_error}")
    peak = max(rss for _, rss in samples)
    print(
        f"soak: resident memory {first:.1f} MiB at minute 1, {last:.1f} MiB at the end ({growth:+.1%}),"
        f" {peak:.1f} MiB at most (during the second release's download wave)"
    )
    passed = stats.clean and abs(growth) <= TOLERANCE and code == 0 and updated == len(fleet.stations)
    print(f"soak: {'PASS' if passed else 'FAIL'} (zero errors, every station on {RELEASES[-1]}, memory within 10 %)")
    return 0 if passed else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stations", type=int, default=5000, help="how many simulated stations (default 5000)")
    parser.add_argument("--minutes", type=int, default=10, help="how long, in whole minutes (default 10)")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between check-ins (default 30)")
    args = parser.parse_args()
    if args.minutes < 2:
        parser.error("--minutes must be at least 2: memory is compared with its value at minute 1")
    sys.exit(asyncio.run(soak(args.stations, args.minutes, args.interval)))
