"""Benchmark: with 1,000 stations checking in every 2 s, how fast does the TUI show a check-in and follow a key?

Run: .venv/bin/python -m tests.benchmarks.tui_latency [--stations 1000] [--seconds 30]
Everything is real: the service, its admin socket, the simulated stations over HTTP, the Textual app
(headless, at 160x48). Prints the median and p95 of both delays.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from textual import events

from tests.benchmarks.loadclient import percentile
from tests.conftest import ServeProcess, stationmaster_command
from tui.app import StationmasterApp
from tui.link import ServiceMessages


class MeasuredApp(StationmasterApp):
    """The real app, noting when each live check-in has been drawn."""

    def __init__(self, socket_path: Path) -> None:
        super().__init__(socket_path)
        self.checkin_delays: list[float] = []

    def on_service_messages(self, message: ServiceMessages) -> None:
        super().on_service_messages(message)
        sent = [float(p["at"]) for p in message.payloads if p.get("kind") == "checkin"]
        # "Showing it" means after the next screen refresh, not merely after the table changed.
        self.call_after_refresh(lambda: self.checkin_delays.extend(time.time() - at for at in sent))


async def run(stations: int, seconds: float) -> dict[str, Any]:
    # Three processes, as on a site: the service, the stations (simulated), and the admin's TUI (here).
    with tempfile.TemporaryDirectory() as scratch:
        serve = ServeProcess(Path(scratch))
        await asyncio.to_thread(serve.start)
        fleet = subprocess.Popen(  # noqa: ASYNC220 (started once, before anything is measured)
            stationmaster_command("simulate", "--count", str(stations), "--url", serve.url, "--interval", "2"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            await asyncio.sleep(2.5)  # every station has checked in once: the table starts full
            app = MeasuredApp(serve.socket)
            key_delays: list[float] = []
            async with app.run_test(size=(160, 48)) as pilot:
                while app.stations_table.row_count < stations:
                    await pilot.pause(0.1)
                app.stations_table.focus()
                app.checkin_delays.clear()
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline:
                    drawn = asyncio.Event()
                    started = time.perf_counter()
                    # Post the key as the terminal driver would; pilot.press() would wait for an idle app,
                    # which never comes while a thousand stations stream in.
                    app.post_message(events.Key("down", None))
                    before = app.stations_table.cursor_row
                    while app.stations_table.cursor_row == before:  # noqa: ASYNC110 (the app offers no event)
                        await asyncio.sleep(0.001)
                    app.call_after_refresh(drawn.set)
                    await drawn.wait()
                    key_delays.append(time.perf_counter() - started)
                    await asyncio.sleep(0.2)
        finally:
            fleet.terminate()
            fleet.wait(timeout=30)
            serve.stop()
    return {"stations": stations, "checkin_delays": app.checkin_delays, "key_delays": key_delays}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    result = asyncio.run(run(args.stations, args.seconds))
    print(f"TUI latency with {result['stations']} stations checking in every 2 s (service, stations, TUI: 3 processes)")
    print(f"{'delay':<28}{'samples':>9}{'median ms':>12}{'p95 ms':>10}")
    for label, values in (
        ("check-in → row drawn", result["checkin_delays"]),
        ("key press → cursor drawn", result["key_delays"]),
    ):
        if values:
            median, p95 = statistics.median(values) * 1000, percentile(values, 0.95) * 1000
            print(f"{label:<28}{len(values):>9}{median:>12.1f}{p95:>10.1f}")


if __name__ == "__main__":
    main()
