"""Benchmark: the appliance beside its references, every figure from one run on one machine.

Run: .venv/bin/python -m tests.benchmarks.appliance [--seconds 8]
- check-in throughput and latency at 100, 1,000 and 5,000 stations, beside a bare aiohttp handler;
- firmware fan-out, 50 and 200 stations pulling a 1 MiB image at once, beside nginx with sendfile
  (`apt-get install nginx-light`; without it the reference column says so);
- resident memory of `serve` with 1,000 stations checking in, and its idle CPU;
- bytes written to disk per 1,000 check-ins (/proc/PID/io), one at a time and 50 at once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from appliance.contract.client import AdminClient
from tests.benchmarks.tui_latency import percentile
from tests.conftest import ServeProcess, free_port, stationmaster_command
from tests.imagefactory import build_image
from tests.stock_clients import esp32_httpupdate_headers

MiB = 1024 * 1024


def mac(index: int, prefix: int = 0x02) -> str:
    """A distinct station MAC per index."""
    return f"{prefix:02X}:BE:{index >> 16 & 255:02X}:{index >> 8 & 255:02X}:{index & 255:02X}:01"


async def checkin_load(url: str, stations: int, seconds: float) -> tuple[int, list[float]]:
    """`stations` stations in a closed loop (each checks in again once answered); (count, latencies)."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=stations)
    async with aiohttp.ClientSession(url, connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def station(index: int) -> None:
            body = {"mac": mac(index), "chip": "esp32", "version": "1.0.0", "rssi": -60, "uptime_s": 100}
            while time.monotonic() < deadline:
                started = time.perf_counter()
                async with session.post("/api/v1/checkin", json=body) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"check-in answered {response.status}")
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(station(i) for i in range(stations)))
    return len(latencies), latencies


async def fan_out(url: str, path: str, clients: int, headers_for: object) -> float:
    """`clients` downloads at once; the aggregate throughput in MiB/s."""
    assert callable(headers_for)
    total = 0
    async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=clients)) as session:

        async def pull(index: int) -> int:
            async with session.get(path, headers=headers_for(index)) as response:
                body = await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{path} answered {response.status}")
                return len(body)

        started = time.perf_counter()
        total = sum(await asyncio.gather(*(pull(i) for i in range(clients))))
        elapsed = time.perf_counter() - started
    return total / MiB / elapsed


def rss_mib(pid: int) -> float:
    """Resident memory of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def written_bytes(pid: int) -> int:
    """Bytes a process has caused to be written to storage."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    return 0


class Nginx:
    """nginx serving one file with sendfile, one worker (the appliance is one process too)."""

    def __init__(self, root: Path, image: Path) -> None:
        self.port = free_port()
        root.chmod(0o755)
        conf = root / "nginx.conf"
        conf.write_text(
            f"worker_processes 1; daemon off; pid {root}/nginx.pid; error_log {root}/error.log;\n"
            "events { worker_connections 1024; }\n"
            f"http {{ access_log off; sendfile on; server {{ listen 127.0.0.1:{self.port};"
            f" location = /ota {{ default_type application/octet-stream; alias {image}; }} }} }}\n"
        )
        self.process = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(root)], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not (root / "nginx.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # readiness of another process

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


async def prepare_fleet(serve: ServeProcess, count: int, image: bytes) -> None:
    """`count` accepted esp32 stations tagged `bench`, with the image assigned to the tag."""
    async with aiohttp.ClientSession(serve.url) as session:
        for index in range(count):
            body = {"mac": mac(index, 0x06), "chip": "esp32", "version": "1.0.0"}
            async with session.post("/api/v1/checkin", json=body) as response:
                await response.read()
    async with AdminClient(serve.socket) as admin:
        for index in range(count):
            await admin.accept(mac(index, 0x06))
            await admin.tag(mac(index, 0x06), add=["bench"])
        imported = await admin.import_image(image, "bench.bin")
        await admin.assign(imported["sha256"], tag="bench")


async def wait_for_stations(serve: ServeProcess, count: int) -> None:
    """Return once the registry holds `count` stations."""
    async with AdminClient(serve.socket) as admin:
        # Another process's registry offers no event to await: poll it.
        while sum((await admin.status())["counts"].values()) < count:  # noqa: ASYNC110
            await asyncio.sleep(0.5)


def row(label: str, ours: str, reference: str, ratio: str) -> None:
    print(f"{label:<46}{ours:>16}{reference:>16}{ratio:>9}")


async def main(seconds: float) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="stationmaster-bench-", dir=Path.cwd()))  # a real disk, not tmpfs
    (scratch / "appliance").mkdir()
    serve = ServeProcess(scratch / "appliance")
    bare_port = free_port()
    bare = await asyncio.to_thread(
        subprocess.Popen, [sys.executable, "-m", "tests.benchmarks.bare_server", str(bare_port)]
    )
    await asyncio.to_thread(serve.start)
    pid = serve.proc.pid if serve.proc else 0
    python = sys.version.split()[0]
    print(f"Stationmaster benchmark on {os.cpu_count()} cores, Python {python}; {seconds:.0f} s per load")
    print(f"{'figure':<46}{'stationmaster':>16}{'reference':>16}{'ratio':>9}")
    try:
        for stations in (100, 1000, 5000):
            ours = await checkin_load(serve.url, stations, seconds)
            ref = await checkin_load(f"http://127.0.0.1:{bare_port}", stations, seconds)
            rate, ref_rate = ours[0] / seconds, ref[0] / seconds
            row(
                f"check-ins/s, {stations} stations", f"{rate:,.0f}", f"{ref_rate:,.0f} (bare)", f"{rate / ref_rate:.2f}"
            )
            for name, fraction in (("median", 0.5), ("p99", 0.99)):
                mine, theirs = percentile(ours[1], fraction) * 1000, percentile(ref[1], fraction) * 1000
                row(f"  latency {name} ms", f"{mine:.1f}", f"{theirs:.1f}", f"{mine / theirs:.2f}")

        image = build_image("esp32", project="bench", version="9.0.0", payload_size=MiB)
        image_path = scratch / "bench.bin"
        image_path.write_bytes(image)
        image_path.chmod(0o644)
        await prepare_fleet(serve, 200, image)
        nginx = Nginx(scratch / "nginx", image_path) if shutil.which("nginx") else None
        try:
            for clients in (50, 200):
                ours_mib = await fan_out(
                    serve.url,
                    "/ota",
                    clients,
                    lambda i: esp32_httpupdate_headers(
                        sta_mac=mac(i, 0x06), free_space=4 * MiB, sketch_size=MiB, sketch_md5="0" * 32
                    ),
                )
                if nginx is not None:
                    ref_mib = await fan_out(f"http://127.0.0.1:{nginx.port}", "/ota", clients, lambda i: {})
                    row(
                        f"1 MiB image to {clients} stations, MiB/s",
                        f"{ours_mib:,.0f}",
                        f"{ref_mib:,.0f} (nginx)",
                        f"{ours_mib / ref_mib:.2f}",
                    )
                else:
                    row(f"1 MiB image to {clients} stations, MiB/s", f"{ours_mib:,.0f}", "no nginx", "-")
        finally:
            if nginx is not None:
                nginx.stop()

        simulate = await asyncio.create_subprocess_exec(
            *stationmaster_command("simulate", "--count", "1000", "--url", serve.url, "--interval", "10"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await wait_for_stations(serve, 1000 + 200)
        await asyncio.sleep(10)  # one more check-in interval: every simulated station in its steady state
        row("resident memory, 1,000 stations checking in", f"{rss_mib(pid):.0f} MiB", "", "")
        simulate.terminate()
        await asyncio.wait_for(simulate.wait(), 30)
        await asyncio.sleep(3)
        before = cpu_seconds(pid)
        await asyncio.sleep(10)
        row("idle CPU (no station checking in)", f"{100 * (cpu_seconds(pid) - before) / 10:.2f} %", "", "")

        async with aiohttp.ClientSession(serve.url) as session:
            for concurrency in (1, 50):
                before_bytes = written_bytes(pid)
                semaphore = asyncio.Semaphore(concurrency)

                async def one(index: int, semaphore: asyncio.Semaphore = semaphore) -> None:
                    async with (
                        semaphore,
                        session.post(
                            "/api/v1/checkin", json={"mac": mac(index, 0x0A), "rssi": -60, "uptime_s": index}
                        ) as response,
                    ):
                        await response.read()

                await asyncio.gather(*(one(i) for i in range(1000)))
                kib = (written_bytes(pid) - before_bytes) / 1024
                row(f"disk written per 1,000 check-ins, {concurrency} at once", f"{kib:,.0f} KiB", "", "")
    finally:
        serve.stop()
        bare.terminate()
        bare.wait(timeout=10)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0, help="how long each check-in load runs")
    asyncio.run(main(parser.parse_args().seconds))
