"""Benchmark: the appliance beside its references, every figure from one run on one machine.

Run: .venv/bin/python -m tests.benchmarks.appliance [--seconds 8]
- check-in throughput and latency at 100, 1,000 and 5,000 stations, beside a bare aiohttp handler;
- firmware fan-out, 50 and 200 stations pulling a 1 MiB image at once, beside nginx with sendfile
  (`apt-get install nginx-light`; without it the reference column says so) and a bare aiohttp
  FileResponse, each burst repeated and the medians compared;
- resident memory and CPU of `serve` with 1,000 simulated stations checking in, and its idle CPU;
- bytes written to disk per 1,000 check-ins (/proc/PID/io): each written at once (one at a time and 50 at
  once), and with "still here" check-ins held and written together, as `serve` does by default.
It prints a Markdown table (the README carries the latest), with the machine and its load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from appliance.contract.client import AdminClient
from services.adapters.station_api.sending import SEND_BUFFER
from tests.benchmarks import loadclient, wrk
from tests.benchmarks.procstats import cpu_seconds, machine, rss_mib, written_bytes
from tests.benchmarks.roundtrips import round_trips
from tests.conftest import ServeProcess, free_port, stationmaster_command
from tests.imagefactory import build_image
from tests.stationkit import station_key
from tests.stock_clients import esp32_httpupdate_headers

MiB = 1024 * 1024
HOST = "127.0.0.1"
CHECKIN_FLEETS = (100, 1000, 5000)
FAN_OUTS = (50, 200)
# Each fan-out is a burst of tens of milliseconds: one alone says more of the moment than of the server. Each
# server is measured this many times, in turn, and the medians are compared.
FAN_OUT_BURSTS = 5


def mac(index: int, prefix: int = 0x02) -> str:
    """A distinct station MAC per index."""
    return f"{prefix:02X}:BE:{index >> 16 & 255:02X}:{index >> 8 & 255:02X}:{index & 255:02X}:01"


def checkin(index: int, prefix: int = 0x02, uptime: int = 100, token: str | None = None) -> bytes:
    """A station's check-in, as the simulator and real firmware send it (with its token once it has one)."""
    body: dict[str, object] = {"mac": mac(index, prefix), "chip": "esp32", "version": "1.0.0", "rssi": -60}
    body["uptime_s"] = uptime
    if token is None:
        body["station_key"] = station_key(mac(index, prefix))
        return loadclient.post_json("/api/v1/checkin", body)
    return loadclient.post_json("/api/v1/checkin", body, {"Authorization": f"Bearer {token}"})


class Table:
    """Rows of (figure, Stationmaster, reference, ratio), printed as Markdown as they come."""

    def __init__(self) -> None:
        print("| figure | Stationmaster | reference | ratio |")
        print("| --- | ---: | ---: | ---: |", flush=True)

    def row(self, figure: str, ours: float, unit: str, reference: float | None = None, name: str = "") -> None:
        ref = "" if reference is None else f"{reference:,.1f} {unit} ({name})"
        ratio = "" if not reference else f"{ours / reference:.2f}"
        print(f"| {figure} | {ours:,.1f} {unit} | {ref} | {ratio} |", flush=True)

    def note(self, figure: str, ours: str, reference: str = "") -> None:
        print(f"| {figure} | {ours} | {reference} | |", flush=True)


class Nginx:
    """nginx serving one file with sendfile, one worker (the appliance is one process too); `send_buffer`
    caps each connection's kernel send buffer (SO_SNDBUF), as the appliance does for its downloads."""

    def __init__(self, root: Path, image: Path, send_buffer: int | None = None) -> None:
        self.port = free_port()
        sndbuf = "" if send_buffer is None else f" sndbuf={send_buffer}"
        root.mkdir()
        root.chmod(0o755)
        conf = root / "nginx.conf"
        conf.write_text(
            f"worker_processes 1; daemon off; pid {root}/nginx.pid; error_log {root}/error.log;\n"
            "events { worker_connections 4096; }\n"
            f"http {{ access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;"
            f" server {{ listen {HOST}:{self.port}{sndbuf}; location = /ota {{"
            f" default_type application/octet-stream; alias {image}; }} }} }}\n"
        )
        self.process = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(root)], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not (root / "nginx.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # readiness of another process: nothing to await

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


async def checkins(table: Table, serve: ServeProcess, bare_port: int, seconds: float) -> None:
    """Closed-loop check-ins at each fleet size, the appliance then the bare handler."""
    for stations in CHECKIN_FLEETS:
        requests = [checkin(i) for i in range(stations)]
        results = []
        for port in (serve.port, bare_port):
            await loadclient.run_all(HOST, port, requests, 100)  # every station known (and warm) first
            results.append(await loadclient.closed_loop(HOST, port, requests, seconds))
        ours, ref = results
        if ours.errors or ref.errors:
            raise RuntimeError(f"check-ins failed: {ours.errors} (Stationmaster), {ref.errors} (bare)")
        table.row(f"check-ins per second, {stations:,} stations", ours.rate, "/s", ref.rate, "bare aiohttp")
        for name, fraction in (("median", 0.5), ("p99", 0.99)):
            mine = loadclient.percentile(ours.latencies, fraction) * 1000
            theirs = loadclient.percentile(ref.latencies, fraction) * 1000
            table.row(f"check-in latency {name}, {stations:,} stations", mine, "ms", theirs, "bare aiohttp")


async def load_generators(table: Table, serve: ServeProcess, bare_port: int, seconds: float) -> None:
    """The same check-ins of 1,000 known stations under wrk (50 connections), the appliance beside the bare
    handler; and the bare handler under this benchmark's client too, to show where the client is the ceiling."""
    if not wrk.available():
        table.note("check-ins under wrk", "wrk not installed", "`apt-get install wrk` to compare")
        return
    bodies = [_body(checkin(i)) for i in range(1000)]
    ours = await wrk.requests_per_second(f"http://{HOST}:{serve.port}/api/v1/checkin", bodies, 50, seconds)
    bare = await wrk.requests_per_second(f"http://{HOST}:{bare_port}/api/v1/checkin", bodies, 50, seconds)
    table.row("check-ins per second, 1,000 stations, wrk (50 connections)", ours, "/s", bare, "bare aiohttp")
    client = await loadclient.closed_loop(HOST, bare_port, [checkin(i) for i in range(50)], seconds)
    table.row("bare aiohttp, 50 connections: this client (wrk beside)", client.rate, "/s", bare, "wrk")


def _body(raw: bytes) -> bytes:
    return raw.split(bytes([13, 10, 13, 10]), 1)[1]


async def paced_checkins(table: Table, scratch: Path, stations: int = 1000, seconds: float = 60.0) -> None:
    """Accepted stations with their tokens, each checking in every 60 s as at a site: the latency they see."""
    serve = ServeProcess(scratch / "paced")
    await asyncio.to_thread(serve.start)
    try:
        firsts = [checkin(i, 0x0C) for i in range(stations)]
        await loadclient.run_all(HOST, serve.port, firsts, 50)
        async with AdminClient(serve.socket) as admin:
            for index in range(stations):
                await admin.accept(mac(index, 0x0C))
        tokens = await _tokens(serve.port, firsts)
        requests = [checkin(i, 0x0C, uptime=200, token=token) for i, token in enumerate(tokens)]
        await loadclient.run_all(HOST, serve.port, requests, 50)  # each has used its token once: settled
        result = await loadclient.paced(HOST, serve.port, requests, 60.0, seconds)
        if result.errors:
            raise RuntimeError(f"{result.errors} paced check-ins failed")
        for name, fraction in (("median", 0.5), ("p99", 0.99)):
            figure = f"check-in latency {name}, {stations:,} stations every 60 s"
            table.row(figure, loadclient.percentile(result.latencies, fraction) * 1000, "ms")
    finally:
        serve.stop()


async def _tokens(port: int, requests: list[bytes]) -> list[str]:
    """Each accepted station's token, from the answer to its next check-in."""
    connection = await loadclient.connect(HOST, port)
    tokens = []
    for raw in requests:
        status, _, body = await connection.exchange(raw)
        if status != 200:
            raise RuntimeError(f"answered {status}: {body[:200]!r}")
        tokens.append(str(json.loads(body)["token"]))
    assert connection.transport is not None
    connection.transport.close()
    return tokens


async def fan_out(table: Table, serve: ServeProcess, scratch: Path) -> None:
    """A 1 MiB image to 50 and 200 stations at once, in turn with nginx sending the same file (with its own
    send buffers, and with the appliance's) and a bare aiohttp FileResponse; the medians of FAN_OUT_BURSTS."""
    image = build_image("esp32", project="bench", version="9.0.0", payload_size=MiB - 4096)
    # Fresh stations for each burst: one station downloading the same image again and again is stopped.
    stations = 1 + FAN_OUT_BURSTS * sum(FAN_OUTS)
    polls = [
        loadclient.get(
            "/ota",
            esp32_httpupdate_headers(sta_mac=mac(i, 0x06), free_space=4 * MiB, sketch_size=MiB, sketch_md5="0" * 32),
        )
        for i in range(stations)
    ]
    async with AdminClient(serve.socket) as admin:
        await loadclient.run_all(HOST, serve.port, [checkin(i, 0x06) for i in range(stations)], 20)
        for index in range(stations):
            await admin.accept(mac(index, 0x06))
            await admin.tag(mac(index, 0x06), add=["bench"])
        # Stations poll every few minutes: each has said what it runs before the update is assigned.
        await loadclient.run_all(HOST, serve.port, polls, 20, expect=304)
        await admin.assign((await admin.import_image(image, "bench.bin"))["sha256"], tag="bench")
    path = scratch / "bench.bin"
    path.write_bytes(image)
    path.chmod(0o644)
    have_nginx = shutil.which("nginx") is not None
    plain = await asyncio.to_thread(Nginx, scratch / "nginx", path) if have_nginx else None
    capped = await asyncio.to_thread(Nginx, scratch / "nginx-capped", path, SEND_BUFFER) if have_nginx else None
    bare_port = free_port()
    bare = await asyncio.to_thread(
        subprocess.Popen, [sys.executable, "-m", "tests.benchmarks.bare_server", str(bare_port), str(path)]
    )
    requests = iter(polls)
    servers = {"bare": bare_port}
    if plain is not None and capped is not None:
        servers |= {"nginx": plain.port, "capped": capped.port}
    try:
        await _accepting(bare_port)
        await loadclient.fan_out(HOST, serve.port, [next(requests)], len(image))  # the image into the page cache
        for clients in FAN_OUTS:
            runs: dict[str, list[float]] = {"ours": [], **{name: [] for name in servers}}
            for _ in range(FAN_OUT_BURSTS):
                ours = [next(requests) for _ in range(clients)]
                runs["ours"].append(await loadclient.fan_out(HOST, serve.port, ours, len(image)))
                for name, port in servers.items():
                    same = [loadclient.get("/ota")] * clients
                    runs[name].append(await loadclient.fan_out(HOST, port, same, len(image)))
            _fan_out_rows(table, clients, runs)
        if plain is not None and wrk.available():
            # wrk fetches the same file again and again over 50 connections: the client's own ceiling shows here.
            ours_client = await loadclient.fan_out(HOST, plain.port, [loadclient.get("/ota")] * 50, len(image))
            theirs = await wrk.mib_per_second(f"http://{HOST}:{plain.port}/ota", 50, 5)
            table.row(
                "nginx sendfile, 50 at once: this client (wrk beside, repeating)", ours_client, "MiB/s", theirs, "wrk"
            )
    finally:
        for nginx in (plain, capped):
            if nginx is not None:
                nginx.stop()
        bare.terminate()
        await asyncio.to_thread(bare.wait, 10)


def _fan_out_rows(table: Table, clients: int, runs: dict[str, list[float]]) -> None:
    """The medians of one fan-out size beside each reference measured (nginx's only where it is installed)."""
    median = {name: statistics.median(figures) for name, figures in runs.items()}
    spread = ", ".join(f"{name} {min(v):,.0f}-{max(v):,.0f}" for name, v in runs.items())
    print(f"<!-- {clients} at once, MiB/s in {FAN_OUT_BURSTS} bursts: {spread} -->", flush=True)
    figure = f"1 MiB image to {clients} stations at once (median of {FAN_OUT_BURSTS})"
    if "nginx" in median:
        table.row(figure, median["ours"], "MiB/s", median["nginx"], "nginx sendfile")
        buffer = f"{SEND_BUFFER // 1024} KiB send buffer"
        table.row(f"the same, nginx with the appliance's {buffer}", median["ours"], "MiB/s", median["capped"], "nginx")
    else:
        table.note(figure, f"{median['ours']:,.1f} MiB/s", "no nginx installed")
    table.row("the same, bare aiohttp FileResponse", median["ours"], "MiB/s", median["bare"], "bare aiohttp")
    if "capped" in median:
        table.row(f"bare aiohttp FileResponse, {clients} at once", median["bare"], "MiB/s", median["capped"], "nginx")


async def _accepting(port: int) -> None:
    """Wait until a server just started accepts connections on `port`."""
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection(HOST, port)
        except OSError:
            await asyncio.sleep(0.05)  # another process's readiness: nothing to await
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise TimeoutError(f"nothing accepts on port {port}")


async def memory_and_cpu(table: Table, scratch: Path, bare_idle_mib: float) -> ServeProcess:
    """A fresh `serve` with 1,000 accepted simulated stations checking in every 10 s; returns it, running."""
    serve = ServeProcess(scratch / "fleet")
    await asyncio.to_thread(serve.start)
    await asyncio.sleep(2)
    floor = ("bare aiohttp, idle", bare_idle_mib)
    table.row("resident memory, just started, no stations", rss_mib(serve.pid), "MiB", floor[1], floor[0])
    simulate = await asyncio.create_subprocess_exec(
        *stationmaster_command("simulate", "--count", "1000", "--url", serve.url, "--interval", "10"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with AdminClient(serve.socket) as admin:
            while len(stations := await admin.stations()) < 1000:  # noqa: ASYNC110 - another process: poll
                await asyncio.sleep(0.5)
            for station in stations:
                await admin.accept(station["mac"])
        await asyncio.sleep(25)  # two rounds: every station has its token and config, the steady state
        before = cpu_seconds(serve.pid)
        await asyncio.sleep(10)
        busy = 100 * (cpu_seconds(serve.pid) - before) / 10
        table.row("resident memory, 1,000 stations checking in", rss_mib(serve.pid), "MiB", floor[1], floor[0])
        table.row("CPU, 1,000 stations checking in every 10 s", busy, "% of a core")
    finally:
        simulate.terminate()
        await asyncio.wait_for(simulate.wait(), 30)
    await asyncio.sleep(3)
    before = cpu_seconds(serve.pid)
    await asyncio.sleep(20)
    table.row(
        "idle CPU, 1,000 stations registered, none checking in",
        100 * (cpu_seconds(serve.pid) - before) / 20,
        "% of a core",
    )
    return serve


# A held "still here" check-in reaches the disk at the next flush (once a minute by default): the held
# figure is measured with flushes every HELD_FLUSH_S, and over a window that takes in the last one.
HELD_FLUSH_S = 2


async def disk_writes(table: Table, scratch: Path) -> None:
    """Bytes sent to storage per 1,000 check-ins of known stations: each written at once, and held."""
    for label, flush_s, concurrencies in (
        ("each written at once", 0, (1, 50)),
        ("'still here' ones held (the default)", HELD_FLUSH_S, (1,)),
    ):
        where = scratch / f"disk-{flush_s}"
        where.mkdir()
        serve = ServeProcess(
            where,
            env={
                "STATIONMASTER_CHECKIN_FLUSH_INTERVAL_S": str(flush_s),
                "STATIONMASTER_MAX_PENDING_STATIONS": "100000",
            },
        )
        await asyncio.to_thread(serve.start)
        try:
            known = 1000
            await loadclient.run_all(HOST, serve.port, [checkin(i, 0x0B) for i in range(known)], 50)  # untimed
            total = 3 * known
            for concurrency in concurrencies:
                requests = [checkin(i % known, 0x0B, uptime=10_000 + i) for i in range(total)]
                await asyncio.sleep(flush_s + 1)  # what the new stations left held is written before counting
                before = written_bytes(serve.pid)
                await loadclient.run_all(HOST, serve.port, requests, concurrency)
                await asyncio.sleep(flush_s + 1)  # the last flush, or the WAL's own write-back
                kib = (written_bytes(serve.pid) - before) / 1024 / (total / 1000)
                table.row(f"disk written per 1,000 check-ins, {concurrency} at a time, {label}", kib, "KiB")
        finally:
            serve.stop()


def _scratch() -> Path:
    # A real disk, not tmpfs, so that /proc/PID/io counts what reaches storage.
    scratch = Path(tempfile.mkdtemp(prefix="stationmaster-bench-", dir=Path.cwd()))
    scratch.chmod(0o755)  # nginx's worker (nobody) reads the image from here
    (scratch / "appliance").mkdir()
    (scratch / "fleet").mkdir()
    return scratch


async def main(seconds: float) -> None:
    scratch = _scratch()
    # Up to 5,000 stations wait as pending here, each checking in as fast as it is answered: the cap on pending
    # stations (1,000, against floods of made-up MACs) would measure dropping them instead.
    serve = ServeProcess(scratch / "appliance", env={"STATIONMASTER_MAX_PENDING_STATIONS": "100000"})
    bare_port = free_port()
    bare = await asyncio.to_thread(
        subprocess.Popen, [sys.executable, "-m", "tests.benchmarks.bare_server", str(bare_port)]
    )
    fleet: ServeProcess | None = None
    print(f"Stationmaster benchmark: {machine()}; {seconds:g} s per check-in load\n")
    try:
        await asyncio.to_thread(serve.start)
        await asyncio.sleep(1)
        bare_idle_mib = rss_mib(bare.pid)  # Python and aiohttp, serving nothing yet: the floor for memory
        table = Table()
        await checkins(table, serve, bare_port, seconds)
        await load_generators(table, serve, bare_port, seconds)
        await fan_out(table, serve, scratch)
        assert serve.stop() == 0
        fleet = await memory_and_cpu(table, scratch, bare_idle_mib)
        assert fleet.stop() == 0
        await disk_writes(table, scratch)
        await paced_checkins(table, scratch)
        print("\nratio: Stationmaster / reference (throughput: higher is better; latency and memory: lower)")
        print("\n| SQLite round trips per request | reads | commits |\n| --- | ---: | ---: |")
        for kind, reads, commits in await round_trips():
            print(f"| {kind} | {reads:.2f} | {commits:.2f} |")
    finally:
        for process in (serve, fleet):
            if process is not None and process.proc is not None and process.proc.poll() is None:
                process.stop()
        bare.terminate()
        bare.wait(timeout=10)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0, help="how long each check-in load runs")
    asyncio.run(main(parser.parse_args().seconds))
