"""Link- and role-aware delivery: a weak link is held back, a critical station waits for the admin."""

from __future__ import annotations

from appliance.contract.client import AdminClient
from services.root.service import StationmasterService
from services.simulator import Behaviour
from tests.conftest import loose
from tests.rollouts.conftest import EventTap, accepted_fleet, by_mac, images

WEAK = Behaviour(signal_dbm=-85)


async def test_a_weak_link_is_held_back_and_a_critical_station_waits_for_approval(
    service: StationmasterService, admin: AdminClient, tap: EventTap
) -> None:
    roles = {1: ["critical"]}
    async with accepted_fleet(service.station_url, admin, tap, 4, behaviours={0: WEAK}, tags=roles) as fleet:
        weak, critical, *healthy = (s.mac for s in fleet.stations)
        _, new = await images(admin)
        started = await admin.start_rollout(new[:12], waves=["100%"], soak_s=0.5, timeout_s=10.0, min_rssi=-75)
        rollout_id = started["id"]
        await tap.wait_for(lambda _: len(tap.of("rollout_station", rollout=rollout_id, state="updated")) == 2)
        holds = [m for m in tap.of("rollout_station", rollout=rollout_id) if m["data"].get("hold")]
        held = {m["mac"]: m["data"]["hold"] for m in holds}
        assert held[weak].startswith("weak signal:")
        assert "below the -75 dBm an update needs" in held[weak]
        assert held[critical].startswith("critical: waits for the admin's approval")
        await tap.first("rollout_waiting", rollout=rollout_id)
        waiting = loose(await admin.rollout(rollout_id))
        assert waiting["state"] == "running"
        assert waiting["reason"].startswith("waiting for 2 held station(s)")
        assert (await admin.station(weak))["ota_note"] == held[weak], "the admin sees why on the station too"

        approved = await admin.approve_rollout(rollout_id, [critical])
        assert by_mac(approved)[critical]["approved"] is True
        await tap.wait_for(lambda _: len(tap.of("rollout_station", rollout=rollout_id, state="updated")) == 3)
        order = tap.messages
        approval = order.index(tap.of("rollout_approved", rollout=rollout_id)[0])
        downloads = [i for i, m in enumerate(order) if m["kind"] == "download_finished" and m["mac"] == critical]
        assert downloads
        assert min(downloads) > approval, "the critical station was sent nothing before the admin approved it"

        cancelled = await admin.rollout_action(rollout_id, "cancel")
    rows = by_mac(cancelled)
    assert cancelled["state"] == "cancelled"
    assert {mac: rows[mac]["state"] for mac in (critical, *healthy)} == dict.fromkeys((critical, *healthy), "updated")
    assert rows[weak]["state"] == "queued"
    assert fleet.stations[0].version == "1.0.0"
    assert fleet.stations[0].stats.updates == 0
    assert not [m for m in tap.messages if m["kind"].startswith("download_") and m["mac"] == weak]
