"""Benchmark: what the TUI costs over the site's 3G link, beside `top -d 1`, at 80x24 with 1,000 stations.

Run: .venv/bin/python -m tests.benchmarks.tui_wire [--stations 1000] [--interval 60] [--seconds 60] [--windows 1]
Everything is real and runs as on a site: `serve`, the simulated stations (accepted as they appear, then
checking in every `--interval` seconds, a real site's pace) and the TUI as separate processes; the TUI and
`top -d 1` each in a tmux session of 80x24. Once the fleet is steady (every station accepted and on its
token) and both are drawn, tmux copies what each writes to its terminal (`pipe-pane`) for `--seconds`:
the bytes per minute of both, and the CPU of the TUI, `serve` and `top` over the same seconds, are printed
side by side for each window.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from appliance.contract.client import AdminClient
from tests.benchmarks.procstats import cpu_seconds, machine, rss_mib
from tests.benchmarks.soak import accept_as_they_come
from tests.conftest import ServeProcess, stationmaster_command
from tests.terminal import Terminal


@dataclass(frozen=True, slots=True)
class Window:
    """One measured window: bytes written to each terminal, CPU seconds of each process, over `seconds`."""

    seconds: float
    tui_bytes: int
    top_bytes: int
    tui_cpu_s: float
    serve_cpu_s: float
    top_cpu_s: float
    tui_rss_mib: float

    def per_minute(self, count: float) -> float:
        """`count` over this window, scaled to one minute."""
        return count * 60 / self.seconds

    def share(self, cpu_s: float) -> float:
        """CPU seconds over this window as a percentage of one core."""
        return 100 * cpu_s / self.seconds


async def steady(socket: Path, stations: int, interval_s: float) -> float:
    """Wait until every station is known and accepted, then one more poll so each is on its token; seconds taken."""
    began = time.monotonic()
    async with AdminClient(socket) as admin:
        # Reading the list every 2 s: a fleet's worth of discoveries has no single event to await.
        while True:
            listed = await admin.stations()
            if len(listed) >= stations and all(s["status"] == "accepted" for s in listed):
                break
            await asyncio.sleep(2)
    # Each station learns it was accepted (and gets its token and config) at its next check-in, within an
    # interval and its jitter (±20 %).
    await asyncio.sleep(interval_s * 1.2 + 2)
    return time.monotonic() - began


def measure(tui: Terminal, top: Terminal, serve_pid: int, seconds: float, scratch: Path, index: int) -> Window:
    """Copy both terminals' output for `seconds` and read the three processes' CPU over the same time."""
    tui_file, top_file = scratch / f"tui-{index}.out", scratch / f"top-{index}.out"
    pids = (tui.pid, serve_pid, top.pid)
    cpu_before = [cpu_seconds(pid) for pid in pids]
    started = time.monotonic()
    tui.record(tui_file)
    top.record(top_file)
    time.sleep(seconds)
    tui.record(None)
    top.record(None)
    elapsed = time.monotonic() - started
    cpu = [cpu_seconds(pid) - before for pid, before in zip(pids, cpu_before, strict=True)]
    return Window(
        seconds=elapsed,
        tui_bytes=tui_file.stat().st_size,
        top_bytes=top_file.stat().st_size,
        tui_cpu_s=cpu[0],
        serve_cpu_s=cpu[1],
        top_cpu_s=cpu[2],
        tui_rss_mib=rss_mib(pids[0]),
    )


async def run(stations: int, interval_s: float, seconds: float, windows: int) -> list[Window]:
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        serve = ServeProcess(scratch)
        await asyncio.to_thread(serve.start)
        fleet = subprocess.Popen(  # noqa: ASYNC220 (started once, before anything is measured)
            stationmaster_command(
                "simulate", "--count", str(stations), "--url", serve.url, "--interval", f"{interval_s:g}"
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        admin = asyncio.create_task(accept_as_they_come(serve.socket))
        tui = top = None
        try:
            warmed = await steady(serve.socket, stations, interval_s)
            # Every station is in: the stand-in admin stops listening, leaving the TUI the stream's one reader.
            admin.cancel()
            print(f"steady after {warmed:.0f} s: {stations:,} stations accepted, checking in every {interval_s:g} s")
            env = {"STATIONMASTER_ADMIN_SOCKET": str(serve.socket)}
            tui = Terminal(f"wire-tui-{os.getpid()}", env, stationmaster_command())
            top = Terminal(f"wire-top-{os.getpid()}", {}, ["top", "-d", "1"])
            # Drawn and loaded: the status line counts every station.
            await asyncio.to_thread(tui.wait_for, lambda s: f"{stations} online" in s, 60)
            await asyncio.sleep(5)  # what the first load queued has been drawn
            results = []
            for index in range(windows):
                window = await asyncio.to_thread(measure, tui, top, serve.pid, seconds, scratch, index)
                results.append(window)
                report(index + 1, window)
            return results
        finally:
            for terminal in (tui, top):
                if terminal is not None:
                    terminal.close()
            admin.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await admin
            fleet.terminate()
            fleet.wait(timeout=30)
            serve.stop()


def report(number: int, window: Window) -> None:
    """One window's figures, TUI beside top."""
    tui_kb, top_kb = window.per_minute(window.tui_bytes) / 1000, window.per_minute(window.top_bytes) / 1000
    print(
        f"window {number}: {window.seconds:.0f} s   bytes per minute: TUI {tui_kb:,.1f} KB, top -d 1 {top_kb:,.1f} KB"
        f" (TUI/top {tui_kb / max(top_kb, 0.001):.2f})   CPU: TUI {window.share(window.tui_cpu_s):.1f} %,"
        f" serve {window.share(window.serve_cpu_s):.1f} %, top {window.share(window.top_cpu_s):.1f} %"
        f" (TUI/serve {window.tui_cpu_s / max(window.serve_cpu_s, 0.001):.2f})"
        f"   TUI resident {window.tui_rss_mib:.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between a station's check-ins")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of one measured window")
    parser.add_argument("--windows", type=int, default=1, help="measured windows, one after another")
    args = parser.parse_args()
    print(f"TUI on the wire at 80x24: {args.stations:,} stations every {args.interval:g} s; {machine()}")
    asyncio.run(run(args.stations, args.interval, args.seconds, args.windows))


if __name__ == "__main__":
    main()
