"""After a break in the link the TUI carries on from where it was: what it missed comes, nothing is fetched again."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from textual.message import Message
from textual.widgets import Static

from appliance.contract.client import AdminClient
from services.root.service import StationmasterService
from tests.remote.relay import SocketRelay
from tests.tui.test_app import MACS, check_in, populated, until
from tui.app import StationmasterApp
from tui.link import LinkResumed, LinkUp

# What only a full reload asks for (the stations list is also read by the Onboarding tab's claim road).
RELOAD = b"GET /v1/events?limit=200 HTTP"


async def test_after_a_break_the_tui_gets_what_it_missed_without_fetching_everything(
    service: StationmasterService, http: aiohttp.ClientSession, admin: AdminClient, tmp_path: Path
) -> None:
    await populated(http, admin)
    relay = SocketRelay(tmp_path / "far.sock", service.settings.admin_socket)
    await relay.start()
    heard: list[Message] = []
    app = StationmasterApp(relay.path)
    try:
        async with app.run_test(size=(120, 30), message_hook=heard.append) as pilot:
            table, banner = app.stations_table, app.query_one("#banner", Static)
            await until(pilot, lambda: table.row_count == 3)
            reloads = relay.requests(RELOAD)
            relay.cut()
            await until(pilot, lambda: banner.has_class("shown"))
            # While the TUI is cut off: an admin on the Pi accepts a station, another station checks in.
            await admin.accept(MACS[2])
            await check_in(http, MACS[1], rssi=-42)
            relay.restore()
            await until(pilot, lambda: not banner.has_class("shown"), within=10)
            await until(pilot, lambda: table.stations[MACS[2]]["status"] == "accepted")
            await until(pilot, lambda: table.stations[MACS[1]]["rssi"] == -42)
        assert [type(m) for m in heard if isinstance(m, LinkUp | LinkResumed)] == [LinkUp, LinkResumed]
        assert reloads == 1
        assert relay.requests(RELOAD) == reloads, "the views were not fetched again"
    finally:
        await relay.stop()
