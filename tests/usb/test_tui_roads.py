"""The On-site USB and Improv roads of the TUI's Onboarding tab, driven with keys against the real service,
a simulated chip (tests/usb/mockchip.py) and an Improv station on a pty (tests/improv/station.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.widgets import DataTable, ProgressBar

from appliance.contract.client import AdminClient
from services.root.service import StationmasterService
from tests.imagefactory import build_image
from tests.improv.station import ImprovStation, improv_station
from tests.nvsformat import read_partition
from tests.tui.test_app import until
from tests.usb.conftest import Stream, about
from tests.usb.mockchip import MockChip
from tests.usb.test_flash_over_usb import check_in
from tui.app import StationmasterApp
from tui.onboarding.usb import FlashWizard

Plug = Callable[[str, str], MockChip]


def row(table: DataTable[Any], key: str) -> list[str]:
    """One row of a table as plain text ([] while it is not there)."""
    if key not in table.rows:
        return []
    return [str(getattr(c, "plain", c)) for c in table.get_row(key)]


async def test_flash_a_plugged_in_board_from_the_usb_road_with_a_progress_bar(
    usb_service: StationmasterService, admin: AdminClient, stream: Stream, chips: Plug
) -> None:
    await admin.add_wifi("AP1", "correct horse battery")
    await admin.import_image(build_image("esp32c3", project="pump", version="3.1.0", payload_size=800_000), "p.bin")
    mock = chips("esp32c3", "ttyUSB0")
    await stream.wait_for(about("usb_port_identified", "ttyUSB0"))
    app = StationmasterApp(usb_service.settings.admin_socket)
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: app.link_up)
        await pilot.press("n")
        table = app.query_one("#usb-table", DataTable)
        table.focus()
        await until(pilot, lambda: row(table, "ttyUSB0")[1:4] == ["ready", "esp32c3", mock.mac])

        bar = app.query_one("#usb-progress", ProgressBar)
        seen: set[float] = set()
        # Every value the bar takes, as it takes it (watched before the flash starts): polling between key
        # presses could miss the middle of a flash that takes a second or two.
        bar.watch(bar, "progress", lambda value: seen.add(value), init=False)

        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, FlashWizard))
        await pilot.press(*"STA2", "enter")
        await until(pilot, lambda: row(table, "ttyUSB0")[1:2] == ["waiting"], within=30)
        assert bar.progress == 100
        assert any(0 < p < 100 for p in seen), seen  # the bar moved while the board was written
        assert row(table, "ttyUSB0")[5] == "██████████ 100%"

        token = str(read_partition(mock.read_flash(0x9000, 0x5000))["stationmaster"]["token"].value)
        await check_in(usb_service, mock.mac, "esp32c3", token)
        await until(pilot, lambda: row(table, "ttyUSB0")[1:2] == ["arrived"], within=10)
        assert row(table, "ttyUSB0")[4] == "STA2"


async def test_hand_the_site_wifi_to_an_improv_station_from_its_road(
    usb_service: StationmasterService, admin: AdminClient, stream: Stream, devices: Path
) -> None:
    await admin.add_wifi("AP1", "correct horse battery", priority=5)
    await admin.add_wifi("AP0", "older passphrase", priority=1)
    with improv_station(ImprovStation(networks={"AP1": "correct horse battery"}), devices / "ttyUSB0"):
        await stream.wait_for(about("improv_detected", "ttyUSB0"))
        app = StationmasterApp(usb_service.settings.admin_socket)
        async with app.run_test(size=(160, 50)) as pilot:
            await until(pilot, lambda: app.link_up)
            await pilot.press("n")
            table = app.query_one("#improv-table", DataTable)
            table.focus()
            await until(
                pilot,
                lambda: (
                    row(table, "ttyUSB0")[1:4] == ["kitchen-light", "ESPHome 2024.6.1", "ready for Wi-Fi credentials"]
                ),
            )
            await pilot.press("j")
            await until(pilot, lambda: bool(app.screen.query("#choices")))
            await pilot.press("enter")  # the first offered is the site's first network by priority
            await until(
                pilot, lambda: row(table, "ttyUSB0")[3:5] == ["on the network", "http://10.0.0.42:80"], within=10
            )
