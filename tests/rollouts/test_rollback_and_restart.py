"""A rollback returns the updated stations to their previous image; a killed service resumes its rollout."""

from __future__ import annotations

from pathlib import Path

from appliance.contract.client import AdminClient
from services.root.service import StationmasterService
from tests.conftest import ServeProcess
from tests.rollouts.conftest import EventTap, accepted_fleet, by_mac, images, open_tap


async def test_a_rollback_returns_the_updated_stations_to_their_previous_image(
    service: StationmasterService, admin: AdminClient, tap: EventTap
) -> None:
    async with accepted_fleet(service.station_url, admin, tap, 4) as fleet:
        old, new = await images(admin)
        started = await admin.start_rollout(new[:12], waves=[1, "rest"], soak_s=0.5, timeout_s=10.0)
        await tap.first("rollout_completed", rollout=started["id"])
        assert {s.version for s in fleet.stations} == {"1.1.0"}
        rolling = await admin.rollout_action(started["id"], "rollback")
        assert rolling["state"] == "rolling_back"
        assert {s["direction"] for s in rolling["stations"]} == {"back"}
        await tap.first("rollout_rolled_back", rollout=started["id"])
    assert {s.version for s in fleet.stations} == {"1.0.0"}
    done = await admin.rollout(started["id"])
    assert done["state"] == "rolled_back"
    assert {s["state"] for s in done["stations"]} == {"rolled_back"}
    assert {s["previous_sha256"] for s in done["stations"]} == {old}, "the image each ran before, found in the library"
    # They stay there: each is now assigned the image it was rolled back to.
    assert {a["mac"]: a["sha256"] for a in await admin.assignments()} == {s.mac: old for s in fleet.stations}


async def test_a_rollout_resumes_after_the_service_is_killed_mid_rollout(serve_process: ServeProcess) -> None:
    async with (
        AdminClient(serve_process.socket) as admin,
        open_tap(admin) as tap,
        accepted_fleet(serve_process.url, admin, tap, 10) as fleet,
    ):
        _, new = await images(admin)
        started = await admin.start_rollout(new[:12], waves=[1, "50%", "rest"], soak_s=1.0, timeout_s=30.0)
        await tap.first("rollout_wave_passed", rollout=started["id"], wave=1)
        serve_process.kill()  # a power cut in the middle of wave 2
        serve_process.start()
        async with AdminClient(serve_process.socket) as again, open_tap(again) as after:
            await after.first("rollout_completed", rollout=started["id"], within=40)
            rollout = await again.rollout(started["id"])
            restored = await again.events(kind="rollout_restored")
    assert rollout["state"] == "completed"
    assert rollout["counts"] == {"updated": 10}
    assert [w["state"] for w in rollout["waves"]] == ["passed", "passed", "passed"]
    assert {s.version for s in fleet.stations} == {"1.1.0"}
    (note,) = restored
    assert note["data"]["rollout"] == started["id"]
    assert "picked up after a restart of the service: running, wave 2 of 3" in note["message"]
    assert by_mac(rollout).keys() == {s.mac for s in fleet.stations}


async def test_a_restored_backup_brings_its_unfinished_rollout_back_and_the_appliance_follows_it(
    service: StationmasterService, admin: AdminClient, tap: EventTap, tmp_path: Path
) -> None:
    async with accepted_fleet(service.station_url, admin, tap, 2) as fleet:
        _, new = await images(admin)
        # A soak long enough that the rollout is still running when the backup is taken.
        started = await admin.start_rollout(new[:12], waves=["100%"], soak_s=600, timeout_s=600)
        await tap.wait_for(lambda _: len(tap.of("rollout_station", rollout=started["id"], state="updating")) == 2)
        await admin.backup(tmp_path / "site.tar.gz")
        await admin.rollout_action(started["id"], "rollback")
        await tap.first("rollout_rolled_back", rollout=started["id"])
        assert {s.version for s in fleet.stations} == {"1.0.0"}
        await admin.restore(tmp_path / "site.tar.gz")
        # The restored registry has the rollout still running, its stations soaking on 1.1.0 (which they no
        # longer run): the appliance follows that rollout at once, and sees them come back on 1.0.0.
        restored = await admin.rollout(started["id"])
        assert restored["state"] == "running"
        await tap.wait_for(lambda _: len(tap.of("alert_wrong_version", rollout=started["id"])) == 2)
    rows = by_mac(await admin.rollout(started["id"]))
    assert {(r["state"], r["outcome"]) for r in rows.values()} == {("failed", "old_version")}
