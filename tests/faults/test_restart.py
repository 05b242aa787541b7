"""The service restarted (by systemd, or by a power cut) while stations poll: they carry on by themselves."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from appliance.contract.client import AdminClient
from services.root.service import REGISTRY_FILE
from services.simulator import SimulatedFleet
from tests.conftest import ServeProcess

STATIONS = 30
INTERVAL_S = 0.3


async def _until(condition: Callable[[], bool], what: str, within_s: float = 20) -> None:
    """Wait for `condition()` (the fleet's counters, or the other process's registry) to hold."""
    deadline = time.monotonic() + within_s
    while not condition():  # state of another process and of the fleet's tasks: no event to await, poll
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def _errors_grow(fleet: SimulatedFleet, *, by: int) -> Callable[[], bool]:
    """True once the fleet has counted `by` more connection errors than now."""
    before = fleet.stats.connection_errors
    return lambda: fleet.stats.connection_errors >= before + by


def _check_ins_grow(fleet: SimulatedFleet, *, by: int) -> Callable[[], bool]:
    """True once every station has checked in `by` more times than now."""
    before = [station.stats.checkins for station in fleet.stations]
    return lambda: all(s.stats.checkins >= n + by for s, n in zip(fleet.stations, before, strict=True))


async def _accept_all(serve: ServeProcess, fleet: SimulatedFleet) -> None:
    async with AdminClient(serve.socket) as admin:
        for _ in range(200):  # every station has checked in at least once, but poll the registry to be sure
            if len(await admin.stations()) == STATIONS:
                break
            await asyncio.sleep(0.1)
        for station in fleet.stations:
            await admin.accept(station.mac)


@pytest.mark.slow
async def test_stations_carry_on_through_a_restart_and_a_power_cut(tmp_path: Path) -> None:
    serve = ServeProcess(tmp_path)
    await asyncio.to_thread(serve.start)
    fleet = SimulatedFleet(url=serve.url, count=STATIONS, interval_s=INTERVAL_S, seed=21, crash_rate=0)
    try:
        async with fleet:
            await _until(lambda: all(s.stats.checkins >= 1 for s in fleet.stations), "every first check-in")
            await _accept_all(serve, fleet)
            await _until(lambda: all(s.token for s in fleet.stations), "every station to hold its token")
            for outage in (serve.stop, serve.kill):  # systemctl restart, then a power cut
                await asyncio.to_thread(outage)
                await _until(_errors_grow(fleet, by=5), "the outage to be felt")
                await asyncio.to_thread(serve.start)
                await _until(_check_ins_grow(fleet, by=2), "every station to check in twice once the service is back")
        stats = fleet.stats
        assert stats.connection_errors >= 10
        assert stats.errors == stats.connection_errors, f"nothing but the outages went wrong: {stats.last_error}"
        assert all(s.status == "accepted" for s in fleet.stations), "tokens held across the restarts"
        async with AdminClient(serve.socket) as admin:
            assert {s["status"] for s in await admin.stations()} == {"accepted"}
    finally:
        if serve.proc is not None and serve.proc.poll() is None:
            assert serve.stop() == 0
    db = sqlite3.connect(serve.data_dir / REGISTRY_FILE)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT count(*) FROM stations").fetchone() == (STATIONS,)
    finally:
        db.close()
