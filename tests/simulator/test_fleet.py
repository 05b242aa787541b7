"""A fleet of simulated stations: many at once over one client, offline on demand, carrying on through restarts."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpServer

from services.simulator import Behaviour, SimulatedFleet, run_cli
from tests.conftest import free_port
from tests.simulator.fakeappliance import FakeAppliance

FAST = 0.05


def checkins_by(fake: FakeAppliance, mac: str) -> int:
    """How many check-ins the fake received from `mac`."""
    return sum(1 for body, _ in fake.checkins if body["mac"] == mac)


async def test_a_fleet_of_stations_checks_in_together_over_one_client(fake: FakeAppliance, url: str) -> None:
    fleet = SimulatedFleet(url=url, count=24, interval_s=FAST, seed=11, crash_rate=0)
    macs = {station.mac for station in fleet.stations}
    async with fleet:
        await fake.wait_until(lambda: all(checkins_by(fake, mac) >= 3 for mac in macs))
        assert fleet.running
    assert not fleet.running
    assert len(macs) == 24
    assert {station.chip for station in fleet.stations} == {"esp8266", "esp32", "esp32c3"}
    assert all(station.token for station in fleet.stations), "each was accepted and kept its token"
    stats = fleet.stats
    assert stats.checkins == sum(station.stats.checkins for station in fleet.stations) >= 72
    assert stats.clean, stats.last_error
    assert fake.violations == []
    rssi = {body["rssi"] for body, _ in fake.checkins}
    assert len(rssi) > 1, "the signal wanders"
    assert all(-90 <= value <= -40 for value in rssi), "within the bounds of a usable link"


async def test_an_offline_station_sends_nothing_until_it_comes_back(fake: FakeAppliance, url: str) -> None:
    fleet = SimulatedFleet(
        url=url, count=3, interval_s=FAST, seed=12, crash_rate=0, behaviours={1: Behaviour(offline=True)}
    )
    present, away = [fleet.stations[0], fleet.stations[2]], fleet.stations[1]
    async with fleet:
        await fake.wait_until(lambda: all(checkins_by(fake, station.mac) >= 5 for station in present))
        assert checkins_by(fake, away.mac) == 0
        fleet.give(1, Behaviour())
        await fake.wait_until(lambda: checkins_by(fake, away.mac) >= 1)
    assert fake.violations == []


async def test_stations_carry_on_when_the_appliance_restarts(
    fake: FakeAppliance, server: TestServer, aiohttp_server: AiohttpServer
) -> None:
    fleet = SimulatedFleet(url=str(server.make_url("/")), count=5, interval_s=FAST, seed=13, crash_rate=0)
    hung_up = 0
    outage_seen = asyncio.Event()

    def hang_up(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # The port answers but the service is not there yet: every request is cut off.
        nonlocal hung_up
        writer.close()
        hung_up += 1
        if hung_up >= 10:
            outage_seen.set()

    async with fleet:
        await fake.wait_until(lambda: len(fake.stations) == 5)
        port = server.port
        await server.close()
        outage = await asyncio.start_server(hang_up, "127.0.0.1", port)
        await asyncio.wait_for(outage_seen.wait(), 20)
        outage.close()
        await outage.wait_closed()
        before = len(fake.checkins)
        await aiohttp_server(fake.app(), port=port)
        await fake.wait_until(lambda: len(fake.checkins) >= before + 10)
    assert fleet.stats.connection_errors >= 1
    assert fleet.stats.errors == fleet.stats.connection_errors, "nothing but the outage went wrong"
    assert fake.violations == []


async def test_simulate_runs_for_its_duration_and_exits_0_when_all_went_well(
    fake: FakeAppliance, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # run_cli runs its own event loop: give it a thread, while this loop serves the fake appliance.
    code = await asyncio.to_thread(run_cli, url=url, count=4, interval_s=FAST, duration_s=0.5, seed=14)
    summary = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 0, summary
    assert summary.startswith("simulate:")
    assert "4 stations" in summary
    assert " 0 errors" in summary
    assert len(fake.stations) == 4
    assert fake.violations == []


async def test_simulate_exits_1_when_the_appliance_cannot_be_reached(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code = await asyncio.to_thread(run_cli, url=url, count=2, interval_s=FAST, duration_s=0.5)
    assert code == 1
    assert "last error" in capsys.readouterr().err
