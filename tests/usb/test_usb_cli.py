"""`stationmaster usb …` as the admin types it over SSH: the list, a flash followed to the station's arrival,
and a refusal with its exit code. The CLI runs as its own process against the service in this test.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from appliance.contract.client import AdminClient
from services.root.service import StationmasterService
from tests.conftest import stationmaster_command
from tests.imagefactory import build_image
from tests.nvsformat import read_partition
from tests.usb.conftest import Stream, about
from tests.usb.mockchip import MockChip
from tests.usb.test_flash_over_usb import check_in

Plug = Callable[[str, str], MockChip]


async def cli(service: StationmasterService, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *stationmaster_command("--admin-socket", str(service.settings.admin_socket), *args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_flash_from_the_command_line_follows_the_job_to_the_station_s_arrival(
    usb_service: StationmasterService, admin: AdminClient, stream: Stream, chips: Plug
) -> None:
    await admin.add_wifi("AP1", "correct horse battery")
    image = await admin.import_image(build_image("esp32c3", project="pump", version="3.1.0"), "pump.bin")
    mock = chips("esp32c3", "ttyUSB0")
    await stream.wait_for(about("usb_port_identified", "ttyUSB0"))

    listed = await cli(usb_service, "usb", "list")
    out, _ = await listed.communicate()
    assert listed.returncode == 0
    header, row = out.decode().splitlines()
    assert header.split() == ["PORT", "STATE", "CHIP", "MAC", "STATION", "WHAT"]
    assert row.split()[:4] == ["ttyUSB0", "ready", "esp32c3", mock.mac]

    flashing = await cli(usb_service, "usb", "flash", "ttyUSB0", "--name", "STA2", "--firmware", image["sha256"][:8])
    assert flashing.stderr is not None
    progress: list[str] = []
    while not any("waiting for its first check-in" in line for line in progress):
        line = await asyncio.wait_for(flashing.stderr.readline(), 30)
        assert line, f"the CLI ended early: {progress}"
        progress.append(line.decode().strip())
    assert any("STA2 on ttyUSB0: writing the firmware" in line for line in progress)
    token = str(read_partition(mock.read_flash(0x9000, 0x5000))["stationmaster"]["token"].value)
    await check_in(usb_service, mock.mac, "esp32c3", token)
    out, _ = await asyncio.wait_for(flashing.communicate(), 30)
    assert flashing.returncode == 0
    assert out.decode().strip() == "ttyUSB0: STA2 arrived (checked in from 10.0.0.23)"
    assert token not in " ".join(progress)


async def test_a_refused_flash_exits_1_saying_why_and_json_lists_the_ports(
    usb_service: StationmasterService, admin: AdminClient, stream: Stream, chips: Plug
) -> None:
    await admin.add_wifi("AP1", "correct horse battery")
    image = await admin.import_image(build_image("esp8266"), "old.bin", project="old", version="0.9")
    chips("esp32", "ttyUSB0")
    await stream.wait_for(about("usb_port_identified", "ttyUSB0"))

    refused = await cli(usb_service, "usb", "flash", "ttyUSB0", "--name", "STA2", "--firmware", image["sha256"][:8])
    out, err = await refused.communicate()
    assert refused.returncode == 1
    assert err.decode().strip().endswith("that firmware is for esp8266")
    as_json = await cli(usb_service, "usb", "list", "--json")
    out, _ = await as_json.communicate()
    [port] = json.loads(out)["ports"]
    assert (port["name"], port["phase"], port["chip"]) == ("ttyUSB0", "ready", "esp32")
