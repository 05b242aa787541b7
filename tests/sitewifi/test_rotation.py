"""Rotating the site's Wi-Fi: every station gains the new network; the old one may go only once all hold it.

Twenty simulated stations (services/simulator) report `config_etag` as firmware does: from the check-in
after they applied the config. Three are switched off before the new network is added.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from appliance.contract.client import AdminClient, AdminError
from services.root.service import StationmasterService
from services.simulator import Behaviour, SimulatedFleet
from services.simulator.behaviour import HEALTHY
from tests.sitewifi.watch import EventWatch, watching

OFFLINE = (3, 8, 15)


def holding(ssid: str, count: int) -> Callable[[EventWatch], bool]:
    """A condition: `count` stations have acknowledged a Wi-Fi list with `ssid` in it."""
    return lambda w: len({e["mac"] for e in w.of("wifi_acknowledged") if ssid in e["data"]["networks"]}) >= count


async def a_running_site(
    service: StationmasterService, admin: AdminClient, watch: EventWatch, count: int
) -> SimulatedFleet:
    """`count` accepted stations holding the site's one network, AP1."""
    await admin.add_wifi("AP1", "old-ap1-passphrase", priority=10)
    fleet = SimulatedFleet(url=service.station_url, count=count, interval_s=0.3, crash_rate=0.0, ota_every=10**6)
    await fleet.start()
    await watch.until(lambda w: len(w.of("station_discovered")) == count, 20)
    for station in fleet.stations:
        await admin.accept(station.mac)
    await watch.until(holding("AP1", count), 30)  # each fetched, applied and reported its config
    return fleet


@pytest.fixture
async def watch(admin: AdminClient) -> AsyncIterator[EventWatch]:
    """The admin's live view of events."""
    async with watching(admin) as live:
        yield live


async def test_three_stations_offline_hold_back_the_old_network_until_they_acknowledge(
    service: StationmasterService, admin: AdminClient, watch: EventWatch
) -> None:
    fleet = await a_running_site(service, admin, watch, 20)
    try:
        for index in OFFLINE:
            fleet.give(index, Behaviour(offline=True))
        offline = {fleet.stations[i].mac for i in OFFLINE}
        names = {s["mac"]: s["name"] for s in await admin.stations()}

        await admin.add_wifi("AP2", "new-ap2-passphrase", priority=20)
        await watch.until(holding("AP2", 17), 30)

        rotation = await admin.wifi_rotation()
        assert not rotation["complete"]
        assert sorted(rotation["behind"]) == sorted(names[m] for m in offline), "exactly the three offline"
        behind = {s["mac"]: s for s in rotation["stations"] if s["lacks"]}
        assert set(behind) == offline
        assert all(s["lacks"] == ["AP2"] and s["holds"] == ["AP1"] for s in behind.values())
        ap1 = next(n for n in rotation["networks"] if n["ssid"] == "AP1")
        assert sorted(ap1["blocked_by"]) == sorted(names[m] for m in offline)

        with pytest.raises(AdminError) as refused:
            await admin.remove_wifi("AP1")
        assert refused.value.code == "conflict"
        named = {n for n in names.values() if n in refused.value.message}
        assert named == {names[m] for m in offline}, refused.value.message
        assert [n["ssid"] for n in await admin.wifi_networks()] == ["AP2", "AP1"], "nothing was dropped"

        for index in OFFLINE:
            fleet.give(index, HEALTHY)
        await watch.until(lambda w: bool(w.of("wifi_rotation_complete")), 30)
        assert (await admin.wifi_rotation())["behind"] == []
        removed = await admin.remove_wifi("AP1")
        assert removed["not_ready"] == []
        assert [n["ssid"] for n in await admin.wifi_networks()] == ["AP2"]
    finally:
        await fleet.stop()


async def test_the_admin_may_override_and_the_event_says_who_was_not_ready(
    service: StationmasterService, admin: AdminClient, watch: EventWatch
) -> None:
    fleet = await a_running_site(service, admin, watch, 4)
    try:
        fleet.give(1, Behaviour(offline=True))
        await admin.add_wifi("AP2", "new-ap2-passphrase")
        await watch.until(holding("AP2", 3), 20)
        removed = await admin.remove_wifi("AP1", override=True)
        late = (await admin.station(fleet.stations[1].mac))["name"]
        assert removed["not_ready"] == [late]
        (event,) = [e for e in await admin.events(kind="wifi_removed")]
        assert event["data"]["overridden"] is True
        assert event["data"]["not_ready"] == [late]
        assert late in event["message"]
    finally:
        await fleet.stop()


async def test_abandoning_a_rotation_halfway_loses_nothing(
    service: StationmasterService, admin: AdminClient, watch: EventWatch
) -> None:
    fleet = await a_running_site(service, admin, watch, 4)
    try:
        fleet.give(2, Behaviour(offline=True))
        await admin.add_wifi("AP2", "new-ap2-passphrase")
        await watch.until(holding("AP2", 3), 20)
        # Changed his mind: the new network goes again, at once (every station still holds AP1).
        mark = len(watch.events)
        assert (await admin.remove_wifi("AP2"))["not_ready"] == []
        rotation = await admin.wifi_rotation()
        assert rotation["complete"]
        assert [n["ssid"] for n in rotation["networks"]] == ["AP1"]
        assert all(s["holds"] == ["AP1"] for s in rotation["stations"])
        # The stations that took AP2 apply the list without it; the one that was away never lost AP1.
        away = fleet.stations[2]
        others = {s.mac for s in fleet.stations if s is not away}
        await watch.until(
            lambda w: {e["mac"] for e in w.events[mark:] if e["kind"] == "wifi_acknowledged"} == others, 20
        )
        assert all([n["ssid"] for n in fleet.stations[i].networks] == ["AP1"] for i in (0, 1, 3))
        seen = watch.checkins.get(away.mac, 0)
        fleet.give(2, HEALTHY)
        await watch.until(lambda w: w.checkins.get(away.mac, 0) >= seen + 2, 20)
        assert [n["ssid"] for n in away.networks] == ["AP1"]
        assert (await admin.wifi_rotation())["complete"]
    finally:
        await fleet.stop()
