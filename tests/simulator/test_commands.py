"""Simulated firmware obeys commands as real firmware would: against the strict fake, then the real service."""

from __future__ import annotations

import aiohttp
import pytest

from appliance.contract.client import AdminClient
from services.root.service import StationmasterService
from services.simulator import SimulatedFleet, SimulatedStation
from tests.imagefactory import build_image
from tests.simulator.fakeappliance import FakeAppliance
from tests.stationkit import event_stream, next_event


@pytest.mark.usefixtures("server")
async def test_a_reboot_delivered_again_runs_once_and_the_next_check_in_shows_it(
    fake: FakeAppliance, session: aiohttp.ClientSession
) -> None:
    station = SimulatedStation(0, seed=9, chip="esp8266", crash_rate=0)
    await station.cycle(session)  # accepted, token issued
    fake.commands[station.mac] = [{"id": 7, "kind": "reboot", "args": {}}]
    await station.cycle(session)
    await station.cycle(session)  # the fake carries a running command again: the id says it ran already
    assert fake.command_answers == [(station.mac, 7, "running", "rebooting")]
    body = fake.checkins[-1][0]
    assert (body["restart_cause"], body["reset_reason"]) == ("user", 4), "REASON_SOFT_RESTART and its own word"
    assert station.stats.commands == 1
    assert fake.violations == []


@pytest.mark.usefixtures("server")
async def test_identify_blinks_and_an_unknown_command_is_answered_as_failed(
    fake: FakeAppliance, session: aiohttp.ClientSession
) -> None:
    station = SimulatedStation(0, seed=9, chip="esp32", crash_rate=0)
    await station.cycle(session)
    fake.commands[station.mac] = [
        {"id": 1, "kind": "identify", "args": {"seconds": 3}},
        {"id": 2, "kind": "set_led", "args": {"colour": "red"}},
        {"id": 3, "kind": "refresh_config", "args": {}},
    ]
    await station.cycle(session)
    assert fake.events_of(station.mac) == [("message", "identify: blinking the LED for 3 s")]
    assert [(i, s) for _, i, s, _ in fake.command_answers] == [(1, "succeeded"), (2, "failed"), (3, "succeeded")]
    assert fake.config_requests[-1][0] is None, "refresh_config fetches whatever the ETag"
    assert fake.violations == []
    assert station.stats.clean, station.stats.last_error


async def test_a_fleet_obeys_reboot_identify_update_now_and_refresh_config_from_the_real_service(
    service: StationmasterService, admin: AdminClient
) -> None:
    # ota_every: stations poll /ota on their own only at their first round, so update_now is what updates them.
    fleet = SimulatedFleet(
        url=service.station_url, count=3, interval_s=0.2, seed=5, crash_rate=0, ota_every=10_000, chips=["esp32"]
    )
    async with event_stream(admin) as events, fleet:
        for _ in range(3):
            discovered = await next_event(events, "station_discovered")
            await admin.accept(discovered["mac"])
        for _ in range(3):
            await next_event(events, "station_token_issued")
        first, second, third = (s.mac for s in fleet.stations)
        image = await admin.import_image(build_image("esp32", project="sim-sensor", version="1.1.0"), "new.bin")
        await admin.assign(image["sha256"], station=third)
        reboot = await admin.send_command(first, "reboot")
        identify = await admin.send_command(second, "identify", {"seconds": 2})
        update = await admin.send_command(third, "update_now")
        config = await admin.send_command(first, "refresh_config")
        outcomes: dict[int, dict[str, object]] = {}
        while len(outcomes) < 4:
            event = await next_event(events, lambda e: e["kind"] in ("command_succeeded", "command_failed"), 20)
            outcomes[int(event["data"]["command_id"])] = event
    assert {i: e["kind"] for i, e in outcomes.items()} == {
        reboot["id"]: "command_succeeded",
        identify["id"]: "command_succeeded",
        update["id"]: "command_succeeded",
        config["id"]: "command_succeeded",
    }
    assert str(outcomes[reboot["id"]]["message"]).endswith("restarted (user)")
    assert str(outcomes[update["id"]]["message"]).endswith("updated to 1.1.0 and restarted")
    assert [r["cause"] for r in await admin.restarts(first)] == ["user"]
    assert [r["cause"] for r in await admin.restarts(third)] == ["ota"]
    assert any(e["message"].startswith("identify: blinking") for e in await admin.events(mac=second, kind="message"))
    assert fleet.stats.clean, fleet.stats.last_error
