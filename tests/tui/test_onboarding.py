"""The Onboarding and Wi-Fi tabs against a real service over the real admin socket."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from textual.widgets import DataTable, Static

from appliance.contract.client import AdminClient
from services.domain.onboarding.nvs import NAMESPACE
from services.root.service import StationmasterService
from tests.nvsformat import read_partition
from tests.tui.test_app import cell, check_in, until
from tui.app import StationmasterApp
from tui.onboarding import Road
from tui.onboarding.bundle import BundleMade

PSK = "broome-ap1-secret"
STA2_MAC = "24:0A:C4:00:02:02"


def rows(table: DataTable[Any]) -> list[list[str]]:
    """Every row of a table as plain text."""
    return [[str(getattr(c, "plain", c)) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_a_bench_bundle_from_the_wizard_then_sta2_arrives(
    service: StationmasterService, admin: AdminClient, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    await admin.add_wifi("AP1", PSK, priority=10)
    out = tmp_path / "bench" / "STA2"
    app = StationmasterApp(service.settings.admin_socket)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.link_up)
        await pilot.press("n")
        assert [type(r).__name__ for r in app.query(Road)] == ["BenchBundleRoad", "UsbRoad", "ImprovRoad", "ClaimRoad"]
        await pilot.press("b")
        await until(pilot, lambda: bool(app.screen.query("#bundle-name")))
        await pilot.press(*"STA2", "tab", "tab", "tab", "tab", *str(out), "enter")
        await until(pilot, lambda: isinstance(app.screen, BundleMade), within=10)
        shown = str(app.screen.query_one("#bundle-made", Static).render())
        assert "esptool --chip esp32 --baud 460800 write-flash 0x9000 STA2-nvs.bin" in shown
        await pilot.press("enter")
        awaiting = app.query_one("#onboarding-table", DataTable)
        await until(pilot, lambda: rows(awaiting) == [["STA2", "esp32", "-", "AP1", rows(awaiting)[0][4]]])
        await pilot.press("s")
        await until(pilot, lambda: "bundle:STA2" in app.stations_table.rows)
        assert cell(app, "bundle:STA2", "state") == "… awaiting"

        token = read_partition((out / "STA2-nvs.bin").read_bytes())[NAMESPACE]["token"].value
        assert isinstance(token, str)
        assert token not in shown
        async with http.post(
            "/api/v1/checkin",
            json={"mac": STA2_MAC, "chip": "esp32", "version": "1.0.0"},
            headers={"Authorization": f"Bearer {token}"},
        ) as response:
            assert response.status == 200
        await until(pilot, lambda: STA2_MAC in app.stations_table.rows and "bundle:STA2" not in app.stations_table.rows)
        await until(pilot, lambda: cell(app, STA2_MAC, "state") == "● online")
        assert cell(app, STA2_MAC, "name") == "STA2"
        await until(pilot, lambda: awaiting.row_count == 0)


async def test_claim_accept_and_reject_pending_stations(
    service: StationmasterService, admin: AdminClient, http: aiohttp.ClientSession
) -> None:
    await check_in(http, "24:0A:C4:00:00:01")
    await check_in(http, "24:0A:C4:00:00:02")
    app = StationmasterApp(service.settings.admin_socket)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        claims = app.query_one("#claim-table", DataTable)
        await until(pilot, lambda: claims.row_count == 2)
        assert rows(claims)[0][:4] == ["esp-000001", "24:0A:C4:00:00:01", "esp32", "1.0.0"]
        claims.focus()
        await pilot.press("a")
        await until(pilot, lambda: claims.row_count == 1)
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        await until(pilot, lambda: claims.row_count == 0)
    assert [(await admin.station(m))["status"] for m in ("24:0A:C4:00:00:01", "24:0A:C4:00:00:02")] == [
        "accepted",
        "rejected",
    ]


async def test_wifi_tab_masks_until_revealed_and_drops_only_when_told_twice(
    service: StationmasterService, admin: AdminClient, http: aiohttp.ClientSession
) -> None:
    await admin.add_wifi("AP1", PSK, priority=10)
    await admin.make_bundle("STA2", "esp32")  # awaited, knowing only AP1
    app = StationmasterApp(service.settings.admin_socket)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("w")
        networks = app.query_one("#wifi-table", DataTable)
        await until(pilot, lambda: networks.row_count == 1)
        await pilot.press("a")
        await until(pilot, lambda: bool(app.screen.query("#wifi-ssid")))
        await pilot.press(*"AP2", "enter", *"new-ap2-secret", "enter")
        await until(pilot, lambda: networks.row_count == 2)
        assert [r[:3] for r in rows(networks)] == [["AP1", "10", "••••••••"], ["AP2", "0", "••••••••"]]
        assert PSK not in str(rows(networks)), "masked until revealed"
        rotation = app.query_one("#rotation-table", DataTable)
        await until(
            pilot, lambda: bool(rows(rotation)) and rows(rotation)[0][:4] == ["STA2", "(awaiting)", "lacks AP2", "AP1"]
        )
        networks.focus()
        networks.move_cursor(row=0)
        await pilot.press("v")
        await until(pilot, lambda: rows(networks)[0][2] == PSK)
        await pilot.press("v")
        await until(pilot, lambda: rows(networks)[0][2] == "••••••••")

        await pilot.press("d")
        await pilot.pause()
        await pilot.press("y")  # drop AP1?
        await until(pilot, lambda: "Drop AP1 anyway" in getattr(app.screen, "question", ""))
        await pilot.press("escape")  # no: STA2 is in the post with only AP1
        await until(pilot, lambda: any("cannot be dropped yet" in n.message for n in app._notifications))
        assert [n["ssid"] for n in await admin.wifi_networks()] == ["AP1", "AP2"]
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("y")
        await until(pilot, lambda: "Drop AP1 anyway" in getattr(app.screen, "question", ""))
        await pilot.press("y")
        await until(pilot, lambda: networks.row_count == 1)
    assert [n["ssid"] for n in await admin.wifi_networks()] == ["AP2"]
    (removed,) = await admin.events(kind="wifi_removed")
    assert removed["data"]["overridden"] is True
