"""The Rollouts tab against a real service and simulated stations, over the real admin socket."""

from __future__ import annotations

from textual.widgets import DataTable, Static

from appliance.contract.client import AdminClient
from services.root.service import StationmasterService
from services.simulator import Behaviour
from tests.rollouts.conftest import accepted_fleet, images, open_tap
from tests.tui.test_app import until
from tui.app import StationmasterApp
from tui.rollout_form import StartRollout


def column(table: DataTable[object], key: str) -> list[str]:
    """The text of one column of a table, top to bottom."""
    return [str(getattr(cell, "plain", cell)) for cell in table.get_column(key)]


async def test_start_a_rollout_approve_the_critical_station_and_watch_it_complete(
    service: StationmasterService, admin: AdminClient
) -> None:
    async with open_tap(admin) as tap, accepted_fleet(service.station_url, admin, tap, 3, tags={2: ["critical"]}):
        await images(admin)
        app = StationmasterApp(service.settings.admin_socket)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("u")
            await pilot.press("N")
            await until(pilot, lambda: isinstance(app.screen, StartRollout))
            await pilot.pause()
            # The newest image (1.1.0) is chosen and the cursor is on the stations: set the soak and time-out.
            await pilot.press("tab", "tab", "home", "ctrl+k", "1", "tab", "home", "ctrl+k", "2", "0", "enter")
            assert isinstance(app.screen, StartRollout), "Enter moves to the next field; it never starts"
            await pilot.click("#review")
            plan = app.screen.query_one("#plan", Static)
            await until(pilot, lambda: "in 3 wave(s): 1, 1, 1" in str(plan.render()))
            assert "1 critical station(s) go last" in str(plan.render())
            await pilot.press("enter")  # on Start, once reviewed
            stations = app.query_one("#rollout-stations", DataTable)
            summary = app.query_one("#rollout-summary", Static)
            await until(pilot, lambda: column(stations, "state")[:2] == ["updated", "updated"], within=20)
            await until(pilot, lambda: "waiting for 1 held station" in str(summary.render()))
            assert column(stations, "state")[2] == "queued (critical)"
            assert column(stations, "why")[2].startswith("critical: waits for the admin's approval")
            await pilot.press("a")
            await pilot.pause()
            await pilot.press("enter")  # every critical station
            await until(pilot, lambda: "completed" in str(summary.render()), within=20)
            assert column(stations, "state") == ["updated", "updated", "updated ✓"]
            listed = app.query_one("#rollouts-table", DataTable)
            assert column(listed, "state") == ["completed"]
    (rollout,) = await admin.rollouts()
    assert (rollout["state"], rollout["counts"], rollout["settings"]["soak_s"]) == ("completed", {"updated": 3}, 1.0)


async def test_a_halted_rollout_shows_why_and_is_rolled_back_from_the_tui(
    service: StationmasterService, admin: AdminClient
) -> None:
    looping = {0: Behaviour(signal_dbm=-50, crash_after_update=True)}
    async with open_tap(admin) as tap, accepted_fleet(service.station_url, admin, tap, 3, behaviours=looping):
        _, new = await images(admin)
        started = await admin.start_rollout(new, soak_s=1.0, timeout_s=20.0)
        await tap.first("rollout_halted", rollout=started["id"])
        app = StationmasterApp(service.settings.admin_socket)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("u")
            stations = app.query_one("#rollout-stations", DataTable)
            summary = app.query_one("#rollout-summary", Static)
            await until(pilot, lambda: stations.row_count == 3)
            assert "halted" in str(summary.render())
            assert "wave 1 failed" in str(summary.render())
            assert column(stations, "state") == ["failed", "queued", "queued"]
            assert "then was restarted by watchdog" in column(stations, "why")[0]
            await pilot.press("b")
            await pilot.pause()
            await pilot.press("y")
            await until(pilot, lambda: "rolled back" in str(summary.render()), within=20)
            assert column(stations, "state")[0] == "rolled back"
    assert (await admin.rollout(started["id"]))["state"] == "rolled_back"
