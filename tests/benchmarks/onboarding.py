"""Benchmark: what onboarding costs the appliance, every figure from one run on one machine.

Run: .venv/bin/python -m tests.benchmarks.onboarding [--stations 200] [--seconds 6]
- check-ins of accepted stations reporting `config_etag` (up to date) beside the same check-ins without it:
  throughput, median latency and bytes written to disk per 1,000 check-ins (/proc/PID/io);
- making a bench bundle: NVS image only, and merged with a 1 MiB firmware image (median of 10 each).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from appliance.contract.client import AdminClient
from tests.benchmarks.appliance import mac
from tests.benchmarks.loadclient import percentile
from tests.benchmarks.procstats import written_bytes
from tests.conftest import ServeProcess
from tests.imagefactory import build_image
from tests.stationkit import station_key


async def accepted_fleet(serve: ServeProcess, admin: AdminClient, count: int) -> list[tuple[str, str, str]]:
    """`count` accepted stations that fetched their config: (mac, token, config ETag)."""
    fleet = []
    async with aiohttp.ClientSession(serve.url) as session:
        for index in range(count):
            station = mac(index, 0x0A)
            body = {"mac": station, "chip": "esp32", "version": "1.0.0", "station_key": station_key(station)}
            async with session.post("/api/v1/checkin", json=body) as response:
                await response.read()
            await admin.accept(body["mac"])
            async with session.post("/api/v1/checkin", json=body) as response:
                token = (await response.json())["token"]
            async with session.get("/api/v1/config", headers={"Authorization": f"Bearer {token}"}) as response:
                fleet.append((body["mac"], token, response.headers["ETag"]))
    return fleet


async def checkins(url: str, fleet: list[tuple[str, str, str]], seconds: float, report_etag: bool) -> list[float]:
    """Every station in a closed loop for `seconds`; the latencies."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=len(fleet))
    async with aiohttp.ClientSession(url, connector=connector) as session:

        async def station(station_mac: str, token: str, etag: str) -> None:
            body: dict[str, Any] = {"mac": station_mac, "chip": "esp32", "version": "1.0.0", "rssi": -60}
            if report_etag:
                body["config_etag"] = etag
            headers = {"Authorization": f"Bearer {token}"}
            while time.monotonic() < deadline:
                started = time.perf_counter()
                async with session.post("/api/v1/checkin", json=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"check-in answered {response.status}")
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(station(*s) for s in fleet))
    return latencies


async def bundle_times(admin: AdminClient, firmware: str | None, count: int = 10) -> list[float]:
    """Seconds to make `count` bundles through the admin API."""
    times = []
    for index in range(count):
        started = time.perf_counter()
        await admin.make_bundle(f"bench-{firmware is not None}-{index}", "esp32", firmware=firmware)
        times.append(time.perf_counter() - started)
    return times


async def main(stations: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        serve = ServeProcess(Path(scratch))
        serve.start()
        try:
            assert serve.proc is not None
            async with AdminClient(serve.socket) as admin:
                await admin.add_wifi("AP1", "benchmark-secret", priority=10)
                fleet = await accepted_fleet(serve, admin, stations)
                rows = []
                for report in (False, True):
                    before = written_bytes(serve.proc.pid)
                    latencies = await checkins(serve.url, fleet, seconds, report)
                    written = written_bytes(serve.proc.pid) - before
                    rows.append((report, len(latencies) / seconds, percentile(latencies, 50), written / len(latencies)))
                image = await admin.import_image(build_image("esp32", payload_size=1024 * 1024), "one-mib.bin")
                nvs_only = await bundle_times(admin, None)
                merged = await bundle_times(admin, image["sha256"])
        finally:
            serve.stop()
    print(f"{stations} accepted stations checking in for {seconds:.0f} s each way:")
    print(f"{'check-in':<34} {'per s':>8} {'median ms':>10} {'KiB written / 1,000':>20}")
    for report, rate, median, per in rows:
        label = "reporting config_etag (up to date)" if report else "without config_etag"
        print(f"{label:<34} {rate:>8.0f} {median * 1000:>10.1f} {per * 1000 / 1024:>20.0f}")
    base, with_etag = rows
    print(
        f"ratio (with / without): throughput {with_etag[1] / base[1]:.2f}, bytes written {with_etag[3] / base[3]:.2f}"
    )
    print(f"bench bundle, NVS only: median {statistics.median(nvs_only) * 1000:.0f} ms")
    print(f"bench bundle merged with a 1 MiB image: median {statistics.median(merged) * 1000:.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stations", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=6.0)
    options = parser.parse_args()
    asyncio.run(main(options.stations, options.seconds))
