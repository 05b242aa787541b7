"""A Pi without a battery clock: `serve` with its wall clock stepped as NTP steps it, the stations on their own.

Each case runs the service on a wrong clock (half a year behind, in 1970, three hours ahead) while stations
check in, the canary of a rollout soaks, one station falls silent and a command waits for it. Then the clock
is stepped to the right time, and every wait must come out as if nothing had happened: the silent station
alerted after its allowance and no other, the canary through its soak, the command after its time-to-live,
held check-ins written within their interval. Then the service is restarted (retention runs at start-up)
and nothing recorded before the step may be gone.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from appliance.contract.client import AdminClient
from services.root.service import REGISTRY_FILE
from services.simulator import Behaviour, SimulatedFleet
from tests.clock.faketime import WallClock, library
from tests.conftest import ServeProcess, loose, stationmaster_command, synchronised_flag
from tests.rollouts.conftest import EventTap, accepted_fleet, by_mac, images, open_tap

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(library() is None, reason="needs Debian's faketime package (.ci/run installs it)"),
]

POLL_S = 2  # the service's poll interval: a station is offline after 3 of them (or of its own, if slower)
SWEEP_S = 2.0  # how often the service looks for silent stations (HOUSEKEEPING_EVERY_S at this interval)
FLUSH_S = 3  # held check-ins are written this often
SOAK_S = 12.0
TTL_S = 20.0
SLOW_S = 4.0  # a station with its own, slower pace: offline only after 3 of its own intervals
SETTINGS = {
    "STATIONMASTER_POLL_INTERVAL_S": str(POLL_S),
    "STATIONMASTER_CHECKIN_FLUSH_INTERVAL_S": str(FLUSH_S),
    "STATIONMASTER_LOG_LEVEL": "debug",  # retention says when it has run, even when it deleted nothing
}


@dataclass(frozen=True, slots=True)
class Step:
    """Where the clock stands while the service first runs, and whether NTP has set it (after the step it has)."""

    name: str
    before: str
    synchronised: bool


STEPS = [
    Step("forward by months", "-182d", synchronised=False),
    Step(
        "from 1970", f"-{int(time.time()) - 86400}", synchronised=False
    ),  # 1970-01-02, as a Pi boots without a saved time
    Step("back by hours", "+3h", synchronised=True),  # NTP stepping back a clock that ran fast
]


@pytest.mark.parametrize("step", STEPS, ids=[s.name for s in STEPS])
async def test_a_step_of_the_clock_moves_no_wait_and_loses_nothing(tmp_path: Path, step: Step) -> None:
    clock = WallClock(tmp_path / "faketime", step.before)
    serve = ServeProcess(tmp_path, env={**clock.env(), **SETTINGS})
    synchronised_flag(tmp_path, present=step.synchronised)
    await asyncio.to_thread(serve.start)
    try:
        async with (
            AdminClient(serve.socket) as admin,
            open_tap(admin) as tap,
            accepted_fleet(serve.url, admin, tap, 3) as fleet,
            SimulatedFleet(url=serve.url, count=1, interval_s=SLOW_S, seed=12, crash_rate=0) as slow,
        ):
            canary, healthy, silent = (s.mac for s in fleet.stations)
            paced = await _accepted_with_its_pace(admin, tap, slow.stations[0].mac)
            assert _clock_said(serve) == ("Clock: synchronised" if step.synchronised else "Clock: NOT")
            # A clock in 1970 has not been set since boot at all: that fails; one merely unsynchronised warns.
            told = "ok" if step.synchronised else "fail" if "1970" in step.name else "warn"
            assert _doctor_on_clock(serve) == told

            _, new = await images(admin)
            started = await admin.start_rollout(
                new[:12], target={"stations": [canary]}, waves=["100%"], soak_s=SOAK_S, timeout_s=60.0
            )
            rollout = started["id"]
            await tap.first("rollout_station", rollout=rollout, state="updating")  # back on 1.1.0: soaking
            fleet.give(2, Behaviour(offline=True))  # from now on the silent station sends nothing
            command = await admin.send_command(silent, "reboot", ttl_s=TTL_S)

            clock.set("+0")  # NTP steps the clock to the right time (and says so)
            synchronised_flag(tmp_path)
            stepped = await tap.first("clock_stepped")
            await _until(lambda: _last_seen(serve, healthy) >= stepped["at"], "held check-ins to be written")

            alert = await tap.first("alert_offline", within=60)
            expired = await tap.first("command_expired", within=60)
            await tap.first("rollout_completed", within=60, rollout=rollout)
            soaked = by_mac(await admin.rollout(rollout))[canary]
            pace = float((await admin.station(silent)).get("seen_period_s") or 0)
            status = await admin.status()
            after_step = [m for m in tap.messages if m.get("id") is not None and m["id"] > stepped["id"]]

        assert alert["mac"] == silent, "the silent station is the one alerted"
        offline = [m["mac"] for m in tap.messages if m.get("kind") == "alert_offline"]
        assert offline == [silent], f"no station that kept checking in is alerted: {offline}"
        assert paced not in offline
        # Offline after three intervals: the service's, or the station's own pace if it is slower.
        allowance = 3 * max(POLL_S, pace)
        waited = alert["at"] - alert["data"]["last_seen_at"]
        assert allowance < waited <= allowance + SWEEP_S + 2, f"alerted on time: after {waited:.1f} s"
        assert " 0 min " in alert["message"], alert["message"]

        assert expired["data"]["command_id"] == command["id"]
        finished = await _command(serve, command["id"])
        lived = finished["finished_at"] - finished["created_at"]
        assert TTL_S <= lived <= TTL_S + 5, f"the command kept its time-to-live: it lived {lived:.1f} s"

        assert (soaked["state"], soaked["outcome"]) == ("updated", "updated"), soaked
        soak = soaked["finished_at"] - soaked["came_back_at"]
        assert SOAK_S <= soak <= SOAK_S + 5, f"the canary soaked for {soak:.1f} s"

        assert status["clock"]["synchronised"] is True
        assert status["uptime_s"] < 600, "the uptime is measured on the monotonic clock"
        assert stepped["data"]["step_s"] == pytest.approx(_jump(step), abs=5)
        assert not [m for m in after_step if m["kind"] == "rollout_station" and m["data"].get("state") == "timed_out"]
        assert _clock_said(serve) == "Clock: synchronised"
        assert _doctor_on_clock(serve) == "ok"

        kept = _rows(serve)
        ats = [at for _, at in kept["events"]]
        assert ats == sorted(ats), "the stamps of the events agree with their order"
        log_before = serve.log_path.read_text().count("retention pruned")
        await asyncio.to_thread(serve.stop)
        await asyncio.to_thread(serve.start)  # retention runs at start-up
        await _until(lambda: serve.log_path.read_text().count("retention pruned") > log_before, "a retention pass")
        after = _rows(serve)
        for table, rows in kept.items():
            gone = {row for row, _ in rows} - {row for row, _ in after[table]}
            assert not gone, f"{len(gone)} of {len(rows)} {table} were deleted after the step"
    finally:
        if serve.proc is not None and serve.proc.poll() is None:
            await asyncio.to_thread(serve.stop)


async def _accepted_with_its_pace(admin: AdminClient, tap: EventTap, mac: str) -> str:
    """Accept the slow station and wait until the service has learned its pace from its check-ins."""
    await tap.wait_for(
        lambda messages: any(m.get("kind") == "station_discovered" and m.get("mac") == mac for m in messages)
    )
    await admin.accept(mac)
    for _ in range(200):  # the pace is learned without an event: ask the registry (bounded)
        if (await admin.station(mac)).get("seen_period_s"):
            return mac
        await asyncio.sleep(0.2)
    raise AssertionError("the slow station's pace was never learned")


async def _until(condition: Callable[[], bool], what: str, within_s: float = 30) -> None:
    """Wait for `condition()` (the other process's registry or log) to hold."""
    deadline = time.monotonic() + within_s
    while not await asyncio.to_thread(condition):  # state of another process: no event to await, poll
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


def _registry(serve: ServeProcess) -> sqlite3.Connection:
    db = sqlite3.connect(f"file:{serve.data_dir / REGISTRY_FILE}?mode=ro", uri=True, timeout=10)
    db.row_factory = sqlite3.Row
    return db


def _last_seen(serve: ServeProcess, mac: str) -> float:
    """The station's last sign of life as written to the registry file (held check-ins are not there yet)."""
    db = _registry(serve)
    try:
        row = db.execute("SELECT last_seen_at FROM stations WHERE mac = ?", (mac,)).fetchone()
    finally:
        db.close()
    return float(row[0] or 0)


async def _command(serve: ServeProcess, command_id: int) -> dict[str, Any]:
    async with AdminClient(serve.socket) as admin:
        return loose(await admin.command(command_id))


def _rows(serve: ServeProcess) -> dict[str, list[tuple[int, float]]]:
    """(id, stamp) of every row of the tables retention prunes by age, by id."""
    db = _registry(serve)
    try:
        return {
            table: [(int(r[0]), float(r[1])) for r in db.execute(f"SELECT id, {at} FROM {table} ORDER BY id")]
            for table, at in (
                ("events", "at"),
                ("checkins", "at"),
                ("transfers", "started_at"),
                ("commands", "created_at"),
                ("alerts", "raised_at"),
            )
        }
    finally:
        db.close()


def _clock_said(serve: ServeProcess) -> str:
    """How `stationmaster status` begins its line about the clock."""
    result = subprocess.run(
        stationmaster_command("--admin-socket", str(serve.socket), "status"),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    line = next(line for line in result.stdout.splitlines() if line.startswith("Clock:"))
    return "Clock: NOT" if line.startswith("Clock: NOT") else line.split(",")[0].split(";")[0]


def _doctor_on_clock(serve: ServeProcess) -> str:
    """`stationmaster doctor`'s verdict on the clock, asked of the running service."""
    result = subprocess.run(
        stationmaster_command("doctor", "--json", "--admin-socket", str(serve.socket)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    found = {item["check"]: item for item in reversed(json.loads(result.stdout))}
    return str(found["clock"]["verdict"])


def _jump(step: Step) -> float:
    """How far the clock steps from `step.before` to the right time, in seconds."""
    text = step.before
    units = {"d": 86400, "h": 3600}
    seconds = float(text[1:-1]) * units[text[-1]] if text[-1] in units else float(text[1:])
    return seconds if text.startswith("-") else -seconds
