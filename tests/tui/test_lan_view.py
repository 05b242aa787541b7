"""The LAN tab: a device announced by mDNS appears and goes; an image is pushed to it with its OTA password."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
from collections.abc import AsyncIterator

import pytest
from textual.widgets import DataTable, Static
from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from appliance.contract.client import AdminClient
from services.root.service import StationmasterService
from tests.conftest import make_settings
from tests.imagefactory import build_image
from tests.lan.espota_station import OtaStation
from tests.tui.test_app import until
from tui.app import StationmasterApp
from tui.dialogs import Ask, Choose

IMAGE = build_image("esp32", project="garden", version="3.0.0", payload_size=30 * 1024)


@pytest.fixture
async def lan_service(tmp_path: object) -> AsyncIterator[StationmasterService]:
    """The service with mDNS on loopback only (never a real interface), under a name no other test uses."""
    settings = make_settings(
        tmp_path,  # type: ignore[arg-type]
        mdns=True,
        mdns_interfaces=("lo",),
        hostname=f"sm-tui-{os.getpid()}",
    )
    async with StationmasterService(settings) as running:
        yield running


async def announce(zc: AsyncZeroconf, instance: str, port: int) -> AsyncServiceInfo:
    """Announce an ArduinoOTA device on loopback, as the ESP's ArduinoOTA.begin() does on its LAN."""
    info = AsyncServiceInfo(
        "_arduino._tcp.local.",
        f"{instance}._arduino._tcp.local.",
        addresses=[socket.inet_aton("127.0.0.1")],
        port=port,
        properties={"board": "esp32", "tcp_check": "no", "ssh_upload": "no", "auth_upload": "yes"},
        server=f"{instance}.local.",
    )
    await zc.async_register_service(info)
    return info


async def test_a_device_appears_takes_a_push_with_its_password_and_goes(lan_service: StationmasterService) -> None:
    station = OtaStation(password="hunter2", scheme="pbkdf2-sha256")  # arduino-esp32 3.3.1 and later
    await station.start()
    instance = f"esp-shed-{os.getpid()}"
    zc = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    async with AdminClient(lan_service.settings.admin_socket) as admin:
        image = await admin.import_image(IMAGE, "garden.bin")
    app = StationmasterApp(lan_service.settings.admin_socket)
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.press("l")
            table = app.query_one("#lan-table", DataTable)
            info = await announce(zc, instance, station.port)
            await until(pilot, lambda: instance in str(table.get_row_at(0)[0]) if table.row_count else False, 10)
            row = [str(cell) for cell in table.get_row_at(0)]
            assert row[1:5] == ["ArduinoOTA", "esp32", f"127.0.0.1:{station.port}", "not enrolled"]

            await pilot.press("p")
            await until(pilot, lambda: isinstance(app.screen, Choose))
            await pilot.press("enter")  # the one image
            await until(pilot, lambda: isinstance(app.screen, Ask))
            assert app.screen.query_one("#answer").password  # type: ignore[attr-defined]
            await pilot.press(*"hunter2", "enter")
            await asyncio.wait_for(station.done.wait(), 20)
            line = app.query_one("#lan-push-line", Static)
            await until(pilot, lambda: "pushed" in str(line.render()), 10)
            assert "password checked by PBKDF2-HMAC-SHA256" in str(line.render())
            assert station.verdict == "ok"
            assert hashlib.sha256(station.received).hexdigest() == image["sha256"]

            await zc.async_unregister_service(info)  # ArduinoOTA's goodbye when the device powers off
            await until(pilot, lambda: table.row_count == 0, 10)
    finally:
        station.stop()
        await zc.async_close()
    for path in lan_service.settings.data_dir.rglob("*"):
        if path.is_file():
            assert b"hunter2" not in path.read_bytes(), f"the OTA password is used, never stored ({path.name})"
