"""Benchmark: the TUI on the Pi over SSH beside the TUI at home with --ssh, across a 3G-like link, 1,000 stations.

Run (as root: namespaces and TUN devices): .venv/bin/python -m tests.benchmarks.tui_over_ssh
    [--stations 1000] [--interval 60] [--seconds 60] [--keys 40] [--rounds 1]

Everything is real: `serve` with the stations simulated at a site's pace (accepted as they appear, then
checking in every `--interval` s), Debian's sshd on the appliance's side of an emulated link (150 ms each
way, 2 Mbit/s, 0.5 % loss: tests/remote/slowlink.py), and the admin's terminal at home (tmux, 80x24) running
either `ssh -t site stationmaster` (the TUI on the Pi, every repaint crossing the link) or
`stationmaster --ssh site` (the TUI at home, only the admin API crossing it), and `ssh -t site top -d 1`
for comparison. For each: the bytes per minute on the link (both ways, IP headers included) over
`--seconds` with nobody typing (and the bytes it took to open and draw the fleet, with 5 s to settle), then
the time from a key press to the cursor drawn, `--keys` presses.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.benchmarks.keylatency import ControlClient, press_and_time
from tests.benchmarks.loadclient import percentile
from tests.benchmarks.procstats import machine
from tests.benchmarks.soak import accept_as_they_come
from tests.benchmarks.tui_wire import steady
from tests.conftest import stationmaster_command
from tests.remote.conftest import THREE_G, Site
from tests.terminal import Terminal


@dataclass(frozen=True, slots=True)
class Figures:
    """One way of running it: bytes on the link per minute, and the key-to-cursor delays in seconds."""

    label: str
    opening_bytes: int
    bytes_per_minute: float
    delays: tuple[float, ...]


def measure(site: Site, label: str, command: list[str], stations: int, seconds: float, keys: int) -> Figures:
    """Open `command` in a terminal at home, wait for it to draw the fleet, then count bytes and time keys."""
    opening = site.link.home_bytes()
    terminal = Terminal(f"bench{os.getpid()}{label.split()[0]}", site.home_env(), site.at_home(*command))
    control = None
    try:
        if keys:
            terminal.wait_for(lambda s: f"{stations} online" in s, within=180)
        else:
            terminal.wait_for(lambda s: "load average" in s, within=60)
        time.sleep(5)  # what the first load queued has been drawn and has crossed the link
        before = site.link.home_bytes()
        opening = before - opening
        started = time.monotonic()
        time.sleep(seconds)
        moved = site.link.home_bytes() - before
        elapsed = time.monotonic() - started
        delays: list[float] = []
        if keys:
            control = ControlClient(terminal.name)
            for number in range(keys):
                # Down ten rows, up ten, and again: the cursor always has somewhere to go.
                key = "Down" if (number // 10) % 2 == 0 else "Up"
                delays.append(press_and_time(control, key))
                time.sleep(0.3)
        return Figures(label, opening, moved * 60 / elapsed, tuple(delays))
    finally:
        if control is not None:
            control.close()
        terminal.close()


def report(rows: list[Figures], top: Figures) -> None:
    """The figures side by side, and the two promises checked."""
    print(
        f"{'':<34}{'key → cursor median':>21}{'p95':>9}{'samples':>9}{'opening KB':>12}{'link KB/min':>13}"
        f"{'÷ top -d 1':>12}"
    )
    for row in [*rows, top]:
        if row.delays:
            median = f"{statistics.median(row.delays) * 1000:.1f} ms"
            p95 = f"{percentile(list(row.delays), 0.95) * 1000:.0f} ms"
        else:
            median = p95 = "-"
        ratio = row.bytes_per_minute / top.bytes_per_minute
        print(
            f"{row.label:<34}{median:>21}{p95:>9}{len(row.delays):>9}{row.opening_bytes / 1000:>12,.1f}"
            f"{row.bytes_per_minute / 1000:>13,.1f}{ratio:>12.2f}"
        )


async def run(stations: int, interval_s: float, seconds: float, keys: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        site = Site(Path(folder), THREE_G)
        fleet = subprocess.Popen(  # noqa: ASYNC220 (started once, before anything is measured)
            stationmaster_command(
                "simulate", "--count", str(stations), "--url", site.service.url, "--interval", f"{interval_s:g}"
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        admin = asyncio.create_task(accept_as_they_come(site.service.socket))
        try:
            warmed = await steady(site.service.socket, stations, interval_s)
            admin.cancel()  # every station is in: the stand-in admin stops listening
            print(f"steady after {warmed:.0f} s: {stations:,} stations accepted, checking in every {interval_s:g} s")
            ssh = shlex.split(site.ssh_command())
            on_the_pi = [*ssh, "-t", "site", *stationmaster_command()]
            at_home = stationmaster_command("--ssh", "site")
            rows = []
            for _ in range(rounds):
                for label, command in (("TUI on the Pi, over ssh -t", on_the_pi), ("TUI at home, --ssh", at_home)):
                    figures = await asyncio.to_thread(measure, site, label, command, stations, seconds, keys)
                    rows.append(figures)
                    print(f"  {label}: {figures.bytes_per_minute / 1000:,.1f} KB/min", flush=True)
            top = await asyncio.to_thread(
                measure, site, "top -d 1, over ssh -t", [*ssh, "-t", "site", "top", "-d", "1"], stations, seconds, 0
            )
            report(rows, top)
        finally:
            admin.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await admin
            fleet.terminate()
            fleet.wait(timeout=30)
            site.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between a station's check-ins")
    parser.add_argument("--seconds", type=float, default=60.0, help="the window bytes are counted over")
    parser.add_argument("--keys", type=int, default=40, help="key presses timed for each TUI")
    parser.add_argument("--rounds", type=int, default=1, help="how many times both TUIs are measured, in turn")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root: the link is two network namespaces and TUN devices")
    print(
        f"TUI across 3G (150 ms each way, 2 Mbit/s, 0.5 % loss), 80x24, {args.stations:,} stations every"
        f" {args.interval:g} s; {machine()}"
    )
    asyncio.run(run(args.stations, args.interval, args.seconds, args.keys, args.rounds))


if __name__ == "__main__":
    main()
