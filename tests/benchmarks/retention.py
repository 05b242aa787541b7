"""Benchmark: what check-ins cost the SD card, and how much disk a month of them leaves with retention applied.

Run: .venv/bin/python -m tests.benchmarks.retention [--stations 250] [--interval 30] [--days 30]

The real service (its domain code, its registry, a real SQLite file on this disk, not tmpfs) runs on a
simulated clock, so a month passes in minutes. Check-ins are handed to the service's own StationReports
directly: HTTP adds CPU, not disk writes. Each station has its RSSI wander, its uptime grow, and restarts
about once a day (a crash, a brownout or a power cut, with its reset code).

1. Bytes written to the data directory per 1,000 check-ins (/proc/self/io write_bytes: what reaches the
   block device, WAL and checkpoints included), stations spread evenly over the interval as real ones are:
   "still here" check-ins written together once a minute (the default) beside every check-in written at
   once (checkin_flush_interval_s = 0, what the service did before).
2. Disk used after the simulated month. A check-in between two history samples changes only memory and
   the station's row (rewritten in place), so the month is driven at the rate the history keeps samples:
   every 5 minutes for the raw days, every hour before that (one sample or twelve make one hourly row).
   Step 3 checks that shortcut: the same hours driven at the full interval and at the sample rate leave
   the same disk use.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from services.domain.fleet.retention import prune_once
from services.root.service import REGISTRY_FILE, StationmasterService
from services.store.journal import Journal
from tests.conftest import make_settings
from tests.stationkit import station_key

START = 1_800_000_000.0  # the simulated month starts here (a Friday in 2027)
HOUR, DAY = 3600.0, 86400.0
RESTARTS = ((0, 1, "power_on"), (1, 7, "watchdog"), (0, 9, "brownout"), (2, 4, "exception"))  # (8266, 32, word)


class SimulatedClock:
    """The service's clock: it reads whatever the benchmark last set."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclasses.dataclass
class Station:
    """One simulated station's state between check-ins."""

    mac: str
    chip: str
    offset: float  # where in each interval it checks in
    rng: random.Random
    rssi: int = -65
    booted_at: float = START
    token: str | None = None
    restart: tuple[int, str] | None = None  # the reset code and word it will report after its next boot

    def body(self, now: float, step_s: float) -> dict[str, object]:
        """Its check-in at `now`; with probability step/day it restarted since the last one."""
        if self.rng.random() < step_s / DAY:
            esp8266, esp32, word = self.rng.choice(RESTARTS)
            self.booted_at = now - self.rng.uniform(1, min(step_s, 20))
            self.restart = (esp8266 if self.chip == "esp8266" else esp32, word)
        # A walk that drifts back to the station's usual level: a dip now and then, not a slide to -90 dBm.
        self.rssi = max(-90, min(-45, self.rssi + self.rng.randint(-2, 2) + round((-65 - self.rssi) / 8)))
        code, word = self.restart or ((0, "power_on") if self.chip == "esp8266" else (1, "power_on"))
        return {
            "mac": self.mac,
            "chip": self.chip,
            "project": "weather",
            "version": "1.4.0",
            "rssi": self.rssi,
            "uptime_s": int(now - self.booted_at),
            "free_heap": self.rng.randrange(150_000, 160_000) if self.chip != "esp8266" else 30_000,
            "restart_cause": word,
            "reset_reason": code,
            "ip": f"192.168.{int(self.mac[-5:-3], 16)}.{int(self.mac[-2:], 16)}",
            "bssid": "0A:11:22:33:44:55",
            "free_sketch_space": 1_310_720,
            "station_key": station_key(self.mac),
        }


def written_bytes() -> int:
    """Bytes this process has caused to be written to storage."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    raise RuntimeError("no write_bytes in /proc/self/io")


def disk_used(data_dir: Path) -> dict[str, int]:
    """Bytes of each registry file."""
    return {p.name: p.stat().st_size for p in sorted(data_dir.glob(REGISTRY_FILE + "*"))}


class Site:
    """A service on a simulated clock with its stations, in a scratch directory on this disk."""

    def __init__(self, root: Path, stations: int, interval_s: float, **settings: object) -> None:
        self.clock = SimulatedClock(START)
        self.settings = make_settings(root, poll_interval_s=int(interval_s), **settings)
        self.service = StationmasterService(self.settings, clock=self.clock)
        rng = random.Random(42)
        self.stations = [
            Station(
                mac=f"02:5A:00:00:{i >> 8:02X}:{i & 255:02X}",
                chip=("esp8266", "esp32", "esp32c3")[i % 3],
                offset=interval_s * i / stations,
                rng=random.Random(rng.random()),
            )
            for i in range(stations)
        ]
        self.interval_s = interval_s
        self.checkins = 0

    async def __aenter__(self) -> Site:
        await self.service.start()
        reports = self.service.reports
        assert reports is not None
        admin = self.service
        assert admin.registry is not None
        for station in self.stations:
            await reports.check_in(station.body(self.clock.now, self.interval_s), None)
        from appliance.contract.client import AdminClient

        async with AdminClient(self.settings.admin_socket) as client:
            for station in self.stations:
                await client.accept(station.mac)
        for station in self.stations:
            answer = await reports.check_in(station.body(self.clock.now, self.interval_s), None)
            station.token = str(answer["token"])
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.service.stop()

    def rounds(self, start: float, end: float, step_s: float) -> Iterator[list[tuple[float, Station]]]:
        """Each round of check-ins in [start, end), one per `step_s` per station, as (time, station) in order."""
        for index in range(int((end - start) // step_s)):
            base = start + index * step_s
            yield [(base + station.offset * step_s / self.interval_s, station) for station in self.stations]

    async def run(self, start: float, end: float, step_s: float, *, together: bool = False) -> None:
        """Check every station in every `step_s` from `start` to `end`, retention once a simulated hour.

        One at a time, as stations spread over the interval arrive; or `together`, a round at once (its check-ins
        then share one moment and the writer commits them in batches: faster, for figures that are not writes).
        """
        reports = self.service.reports
        assert reports is not None
        assert self.service.registry is not None
        journal = Journal(self.service.registry, self.service.bus, self.clock)
        next_prune = start + HOUR
        for round_ in self.rounds(start, end, step_s):
            if round_[0][0] >= next_prune:
                self.clock.now = round_[0][0]
                await prune_once(journal, self.service.retention)
                next_prune += HOUR
            if together:
                self.clock.now = round_[0][0]
                await asyncio.gather(*(reports.check_in(s.body(at, step_s), s.token) for at, s in round_))
            else:
                for at, station in round_:
                    self.clock.now = at
                    await reports.check_in(station.body(at, step_s), station.token)
            self.checkins += len(round_)
        self.clock.now = end
        assert self.service.coalescer is not None
        await self.service.coalescer.flush()


async def writes_per_thousand(root: Path, stations: int, interval_s: float, minutes: float, flush_s: int) -> float:
    """KiB written per 1,000 check-ins over `minutes` of simulated time, after a warm-up interval."""
    async with Site(root, stations, interval_s, checkin_flush_interval_s=flush_s) as site:
        await site.run(START, START + 2 * interval_s, interval_s)
        before, counted = written_bytes(), site.checkins
        begin = START + 2 * interval_s
        await site.run(begin, begin + minutes * 60, interval_s)
        return (written_bytes() - before) / 1024 / ((site.checkins - counted) / 1000)


async def month(root: Path, stations: int, interval_s: float, days: float) -> tuple[dict[str, int], dict[str, int]]:
    """Disk used and rows kept after `days`, driven at the rate the history keeps samples."""
    # Driven an hour apart, stations would look silent to the offline sweep: give it more patience here.
    async with Site(root, stations, interval_s, offline_after_missed=int(2 * HOUR / interval_s)) as site:
        settings = site.settings
        end = START + days * DAY
        raw_from = max(START, end - settings.checkin_retention_days * DAY)
        t0 = time.monotonic()
        await site.run(START, raw_from, HOUR, together=True)
        await site.run(raw_from, end, float(settings.checkin_history_interval_s), together=True)
        site.clock.now = end
        assert site.service.registry is not None
        await prune_once(Journal(site.service.registry, site.service.bus, site.clock), site.service.retention)
        db = site.service.registry.db
        rows = {}
        for table in ("checkins", "checkin_rollups", "events", "restarts", "alerts", "stations"):
            row = await db.fetch_one(f"SELECT count(*) FROM {table}")
            rows[table] = int(row[0]) if row else 0
        # Bytes each table takes with its indexes, from SQLite's own page accounting.
        sizes = await db.fetch_all(
            "SELECT s.tbl_name AS tbl, sum(d.pgsize) AS bytes FROM dbstat d JOIN sqlite_schema s ON d.name = s.name"
            " GROUP BY s.tbl_name ORDER BY bytes DESC"
        )
        print(f"  (month simulated in {time.monotonic() - t0:.0f} s, {site.checkins:,} check-ins driven)")
        raw_per_day = 0.0
        for row in sizes[:5]:
            print(f"  {row['tbl'] + ' with its indexes':<70}{mib(row['bytes']):>14}")
            if row["tbl"] == "checkins":
                raw_per_day = row["bytes"] / settings.checkin_retention_days
        print(
            f"  {f'(raw samples kept all {days:.0f} days instead would take about)':<70}{mib(raw_per_day * days):>14}"
        )
    return disk_used(settings.data_dir), rows


async def same_disk_either_way(root: Path, stations: int, interval_s: float, hours: float) -> tuple[int, int]:
    """Registry bytes after `hours` driven at the full interval, and at the history's sample rate."""
    sizes = []
    for step, name in ((interval_s, "full"), (300.0, "sampled")):
        async with Site(root / name, stations, interval_s, offline_after_missed=30) as site:
            await site.run(START, START + hours * HOUR, step, together=True)
            await site.service.stop()
            sizes.append(sum(disk_used(site.settings.data_dir).values()))
            await site.service.start()
    return sizes[0], sizes[1]


def mib(size: float) -> str:
    """Bytes as MiB."""
    return f"{size / 1024 / 1024:,.1f} MiB"


async def main(stations: int, interval_s: float, days: float) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="stationmaster-retention-", dir=Path.cwd()))  # a real disk
    try:
        python = sys.version.split()[0]
        print(f"Retention benchmark: {stations} stations checking in every {interval_s:.0f} s, Python {python}")
        together = await writes_per_thousand(scratch / "together", stations, interval_s, 20, 60)
        at_once = await writes_per_thousand(scratch / "at-once", stations, interval_s, 10, 0)
        print(f"{'disk written per 1,000 check-ins, held and written together (default)':<72}{together:>10,.0f} KiB")
        print(f"{'disk written per 1,000 check-ins, each written at once (flush interval 0)':<72}{at_once:>10,.0f} KiB")
        print(f"{'  ratio':<72}{at_once / together:>10.1f} x")
        per_day = 86400 / interval_s * stations / 1000
        daily = f"{mib(together * 1024 * per_day):>14} vs {mib(at_once * 1024 * per_day)}"
        print(f"{'  so per day at this site':<72}{daily}")
        full, sampled = await same_disk_either_way(scratch / "either", stations, interval_s, 2)
        print(f"{'registry after 2 h, every check-in driven':<72}{mib(full):>14}")
        print(f"{'registry after 2 h, driven at the sample rate':<72}{mib(sampled):>14}  ratio {full / sampled:.3f}")
        files, rows = await month(scratch / "month", stations, interval_s, days)
        print(f"{f'disk used after {days:.0f} days, retention applied':<72}{mib(sum(files.values())):>14}")
        for name, size in files.items():
            print(f"  {name:<70}{mib(size):>14}")
        print("  rows kept: " + ", ".join(f"{table} {count:,}" for table, count in rows.items()))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stations", type=int, default=250)
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between a station's check-ins")
    parser.add_argument("--days", type=float, default=30.0, help="how long the simulated month is")
    options = parser.parse_args()
    asyncio.run(main(options.stations, options.interval, options.days))
