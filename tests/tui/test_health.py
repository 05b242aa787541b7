"""The TUI's alerts tab, its count in the status line, and commands from a station's detail screen."""

from __future__ import annotations

import aiohttp
from textual.widgets import DataTable, Static

from appliance.contract.client import AdminClient
from services.root.service import StationmasterService
from tests.stationkit import accepted, check_in
from tests.tui.test_app import until
from tui.app import StationmasterApp
from tui.detail import StationScreen

MAC = "24:0A:C4:00:00:61"


def rows(table: DataTable[object]) -> list[list[str]]:
    """Every row's cells as text."""
    return [[str(getattr(c, "plain", c)) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_an_alert_appears_live_with_its_count_and_goes_when_cleared(
    service: StationmasterService, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    token = await accepted(http, admin, MAC)
    await admin.rename(MAC, "pump-house")
    app = StationmasterApp(service.settings.admin_socket)
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: app.stations_table.row_count == 1)
        await pilot.press("exclamation_mark")
        table = app.alerts_table
        status = app.query_one("#status", Static)
        for _ in range(3):
            await check_in(http, MAC, token, rssi=-87)
        await until(pilot, lambda: table.row_count == 1)
        [row] = rows(table)
        assert row[1:3] == ["▁ weak signal", "pump-house"]
        assert "-87 dBm" in row[3]
        await until(pilot, lambda: str(status.render()).startswith("⚠ 1 alert ·"))
        await pilot.press("c")  # the admin dismisses it
        await until(pilot, lambda: table.row_count == 0)
        await until(pilot, lambda: "alert" not in str(status.render()))
    [kept] = await admin.alerts(all_kept=True)
    assert kept["cleared_message"] == "dismissed by the admin"


async def test_reboot_and_identify_from_the_detail_screen_and_critical_asks_twice(
    service: StationmasterService, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    token = await accepted(http, admin, MAC, uptime_s=800)
    await check_in(http, MAC, token, uptime_s=3, reset_reason=6)  # a task watchdog, shown as a restart
    await admin.tag(MAC, add=["critical"])
    app = StationmasterApp(service.settings.admin_socket)
    async with app.run_test(size=(120, 50)) as pilot:
        await until(pilot, lambda: app.stations_table.row_count == 1)
        app.open_station(MAC)
        await until(pilot, lambda: isinstance(app.screen, StationScreen) and bool(app.screen.station))
        screen = app.screen
        restarts = screen.query_one("#restarts", DataTable)
        await until(pilot, lambda: restarts.row_count == 1)
        assert rows(restarts)[0][1:3] == ["task_watchdog", "6"]
        await pilot.press("i")
        commands = screen.query_one("#commands", DataTable)
        await until(pilot, lambda: commands.row_count == 1)
        await pilot.press("b")
        await pilot.pause()
        await pilot.press("y")  # yes, reboot
        await pilot.pause()
        await pilot.press("y")  # yes, even though it is tagged critical
        await until(pilot, lambda: commands.row_count == 2)
        assert [r[1:3] for r in rows(commands)] == [["reboot", "queued"], ["identify seconds=30", "queued"]]
        await check_in(http, MAC, token, uptime_s=10)  # delivered: the screen follows the events
        await until(pilot, lambda: [r[2] for r in rows(commands)] == ["delivered", "delivered"])
    sent = await admin.commands(station=MAC)
    assert [(c["kind"], c["forced"]) for c in sent] == [("reboot", True), ("identify", False)]


async def test_an_alert_names_the_station_as_it_is_called_now_and_enter_opens_it(
    service: StationmasterService, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    token = await accepted(http, admin, MAC)
    await admin.rename(MAC, "pump-house")
    for _ in range(3):
        await check_in(http, MAC, token, rssi=-87)
    app = StationmasterApp(service.settings.admin_socket)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("exclamation_mark")
        table = app.alerts_table
        await until(pilot, lambda: table.row_count == 1)
        await admin.rename(MAC, "borehole")  # renamed since the alert was raised
        await until(pilot, lambda: rows(table)[0][2] == "borehole")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, StationScreen) and bool(app.screen.station))
        assert app.screen.mac == MAC  # type: ignore[attr-defined]
