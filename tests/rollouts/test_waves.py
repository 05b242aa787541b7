"""A rollout over fifty simulated stations goes wave by wave, and a canary that reboot-loops stops it cold."""

from __future__ import annotations

from appliance.contract.client import AdminClient
from services.root.service import StationmasterService
from services.simulator import Behaviour
from tests.rollouts.conftest import EventTap, accepted_fleet, by_mac, images


async def test_fifty_stations_are_updated_wave_by_wave(
    service: StationmasterService, admin: AdminClient, tap: EventTap
) -> None:
    async with accepted_fleet(service.station_url, admin, tap, 50, tags={7: ["canary"]}) as fleet:
        _, new = await images(admin)
        started = await admin.start_rollout(
            new[:12], waves=[1, "25%", "rest"], soak_s=1.0, timeout_s=20.0, downloads_per_ap=8
        )
        assert [w["size"] for w in started["waves"]] == [1, 13, 36]
        canary = fleet.stations[7].mac
        assert [s["mac"] for s in started["stations"] if s["wave"] == 1] == [canary], "the canary goes first"
        try:
            await tap.wait_for(
                lambda _: bool(tap.of("rollout_completed", rollout=started["id"]) or tap.of("rollout_halted")), 120
            )
        except TimeoutError:
            stuck = await admin.rollout(started["id"])
            raise AssertionError(f"the rollout neither completed nor halted: {stuck}") from None
    halted = tap.of("rollout_halted", rollout=started["id"])
    assert not halted, f"the rollout halted: {halted[0]['data']}"
    done = tap.of("rollout_completed", rollout=started["id"])[0]
    rollout = await admin.rollout(started["id"])
    assert rollout["state"] == "completed"
    assert rollout["counts"] == {"updated": 50}
    assert [w["state"] for w in rollout["waves"]] == ["passed", "passed", "passed"]
    assert all(s.version == "1.1.0" for s in fleet.stations)
    # Wave by wave: no station of a wave was offered the image before the wave ahead of it had passed.
    order = tap.messages
    for wave in (2, 3):
        passed = order.index(tap.of("rollout_wave_passed", rollout=started["id"], wave=wave - 1)[0])
        offers = tap.of("rollout_station", rollout=started["id"], wave=wave, state="initiated")
        assert offers
        assert min(order.index(m) for m in offers) > passed, f"wave {wave} began before wave {wave - 1} passed"
    assert order.index(done) > order.index(tap.of("rollout_wave_passed", wave=3)[0])
    # Each station stays on 1.1.0 once the rollout is over: it is now assigned to each of them.
    pinned = {a["mac"]: a["sha256"] for a in await admin.assignments()}
    assert pinned == {s.mac: new for s in fleet.stations}


async def test_a_canary_that_reboot_loops_halts_the_first_wave_and_nobody_else_is_touched(
    service: StationmasterService, admin: AdminClient, tap: EventTap
) -> None:
    looping = Behaviour(signal_dbm=-55, crash_after_update=True)
    roles = {0: ["canary"]}
    async with accepted_fleet(service.station_url, admin, tap, 12, behaviours={0: looping}, tags=roles) as fleet:
        _, new = await images(admin)
        started = await admin.start_rollout(new[:12], waves=[1, "50%", "rest"], soak_s=2.0, timeout_s=20.0)
        halted = await tap.first("rollout_halted", rollout=started["id"])
        await tap.wait_for(lambda _: all(s.stats.checkins >= 20 for s in fleet.stations[1:]))
    canary = fleet.stations[0]
    assert halted["data"]["wave"] == 1
    (failure,) = halted["data"]["failures"]
    assert failure["mac"] == canary.mac
    assert failure["outcome"] == "boot_loop"
    assert "came back on 1.1.0, then was restarted by watchdog" in failure["reason"]
    rollout = await admin.rollout(started["id"])
    assert rollout["state"] == "halted"
    assert rollout["waves"][0]["state"] == "failed"
    rows = by_mac(rollout)
    assert rows[canary.mac]["state"] == "failed"
    others = [rows[s.mac] for s in fleet.stations[1:]]
    assert {r["state"] for r in others} == {"queued"}
    # Untouched: none of the others was sent a byte of the image, and each still runs 1.0.0.
    downloads = await admin.events(kind="download_finished", limit=100)
    assert {e["mac"] for e in downloads} == {canary.mac}
    assert {s.version for s in fleet.stations[1:]} == {"1.0.0"}
    assert all(s.stats.updates == 0 for s in fleet.stations[1:])
