"""What goes wrong on the USB road, and that it leaves the registry as it was: a pulled cable, a refused order,
a port where nothing answers; and two boards flashed side by side without holding up the service.
"""

from __future__ import annotations

import os
import tty
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from appliance.contract.client import AdminClient, AdminError
from services.root.service import StationmasterService
from tests.imagefactory import build_image
from tests.nvsformat import read_partition
from tests.usb.conftest import Stream, about, port_phase
from tests.usb.mockchip import MockChip
from tests.usb.test_flash_over_usb import check_in

Plug = Callable[[str, str], MockChip]


def writing(port: str) -> Callable[[dict[str, Any]], bool]:
    """A predicate: progress writing the firmware on `port`."""
    progress = about("usb_flash_progress", port)
    return lambda m: progress(m) and m["stage"] == "writing the firmware"


async def import_for(admin: AdminClient, chip: str, size: int, version: str = "2.0.0") -> str:
    app = build_image(chip, project="weather", version=version, payload_size=size)
    return str((await admin.import_image(app, f"weather-{chip}.bin"))["sha256"][:12])


async def test_a_port_pulled_mid_flash_fails_clearly_and_registers_nothing(
    usb_service: StationmasterService, admin: AdminClient, stream: Stream, chips: Plug
) -> None:
    await admin.add_wifi("AP1", "correct horse battery")
    firmware = await import_for(admin, "esp32", 1_500_000)
    mock = chips("esp32", "ttyUSB0")
    await stream.wait_for(about("usb_port_identified", "ttyUSB0"))

    await admin.usb_flash("ttyUSB0", "STA2", firmware)
    await stream.wait_for(
        lambda m: (
            about("usb_flash_progress", "ttyUSB0")(m) and m["stage"] == "writing the firmware" and m["percent"] > 20
        )
    )
    mock.unplug()

    failed = await stream.wait_for(about("usb_flash_failed", "ttyUSB0"))
    assert "went away while writing the firmware (unplugged?)" in failed["message"]
    assert " %)" in failed["message"]  # how far it got
    assert not stream.of("usb_flash_finished")
    with pytest.raises(AdminError) as missing:
        await admin.station(mock.mac)
    assert missing.value.status == 404
    assert [s["name"] for s in await admin.stations()] == []
    [port] = await admin.usb_ports()
    assert (port["phase"], port["present"]) == ("failed", False)
    assert port["job"]["error"] in failed["message"]


async def test_two_boards_flash_side_by_side_and_the_service_keeps_answering(
    usb_service: StationmasterService, admin: AdminClient, stream: Stream, chips: Plug
) -> None:
    await admin.add_wifi("AP1", "correct horse battery")
    classic, c3 = await import_for(admin, "esp32", 600_000), await import_for(admin, "esp32c3", 600_000)
    chips("esp32", "ttyUSB0")
    chips("esp32c3", "ttyUSB1")
    await stream.wait_for(about("usb_port_identified", "ttyUSB0"))
    await stream.wait_for(about("usb_port_identified", "ttyUSB1"))

    await admin.usb_flash("ttyUSB0", "STA2", classic)
    await admin.usb_flash("ttyUSB1", "STA3", c3)
    for name in ("ttyUSB0", "ttyUSB1"):
        await stream.wait_for(writing(name))
    # esptool runs in worker threads: the admin API answers while both boards are being written.
    assert {p["name"]: p["phase"] for p in await admin.usb_ports()} == {"ttyUSB0": "flashing", "ttyUSB1": "flashing"}
    for name in ("ttyUSB0", "ttyUSB1"):
        await stream.wait_for(about("usb_flash_finished", name))

    order = [m["port_name"] for m in stream.of("usb_flash_progress") if m["stage"] == "writing the firmware"]
    first_b, last_a = order.index("ttyUSB1"), len(order) - 1 - order[::-1].index("ttyUSB0")
    assert first_b < last_a  # the two writes overlapped
    assert {s["name"]: s["status"] for s in await admin.stations()} == {"STA2": "accepted", "STA3": "accepted"}


async def test_refused_orders_say_why_and_change_nothing(
    usb_service: StationmasterService, admin: AdminClient, stream: Stream, chips: Plug
) -> None:
    c3_firmware = await import_for(admin, "esp32c3", 4096)
    firmware = await import_for(admin, "esp32", 4096)
    chips("esp32", "ttyUSB0")
    await stream.wait_for(about("usb_port_identified", "ttyUSB0"))

    async def refusal(port: str, name: str, image: str) -> tuple[int, str]:
        with pytest.raises(AdminError) as refused:
            await admin.usb_flash(port, name, image)
        return refused.value.status, refused.value.message

    status, message = await refusal("ttyUSB0", "STA2", firmware)
    assert status == 400
    assert "the site has no Wi-Fi network yet" in message
    await admin.add_wifi("AP1", "correct horse battery")
    assert (await refusal("ttyUSB9", "STA2", firmware))[0] == 404
    status, message = await refusal("ttyUSB0", "STA2", c3_firmware)
    assert (status, "that firmware is for esp32c3") == (409, message.split("; ")[-1])
    assert (await refusal("ttyUSB0", "bad/name", firmware))[0] == 400
    assert (await refusal("ttyUSB0", "STA2", "ffffff"))[0] == 404

    assert not stream.of("usb_flash_started")
    assert await admin.stations() == []
    [port] = await admin.usb_ports()
    assert port["phase"] == "ready"


async def test_a_port_where_nothing_answers_is_shown_as_silent(
    usb_service: StationmasterService, admin: AdminClient, stream: Stream, devices: Path
) -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        (devices / "ttyUSB0").symlink_to(os.ttyname(slave))
        unidentified = await stream.wait_for(about("usb_port_unidentified", "ttyUSB0"))
        assert "neither Improv nor a ROM bootloader answered" in unidentified["message"]
        port = await port_phase(admin, stream, "ttyUSB0", "silent")
        assert port["chip"] is None
        (devices / "ttyUSB0").unlink()
        await stream.wait_for(about("usb_port_removed", "ttyUSB0"))
        assert await admin.usb_ports() == []
    finally:
        os.close(master)
        os.close(slave)


async def test_reflashing_a_known_station_is_refused_before_writing_unless_it_replaces_it(
    usb_service: StationmasterService, admin: AdminClient, stream: Stream, chips: Plug
) -> None:
    await admin.add_wifi("AP1", "correct horse battery")
    firmware = await import_for(admin, "esp32", 4096)
    mock = chips("esp32", "ttyUSB0")
    await stream.wait_for(about("usb_port_identified", "ttyUSB0"))
    await admin.usb_flash("ttyUSB0", "STA2", firmware)
    await port_phase(admin, stream, "ttyUSB0", "waiting")
    old_token = str(read_partition(mock.read_flash(0x9000, 0x5000))["stationmaster"]["token"].value)
    await check_in(usb_service, mock.mac, "esp32", old_token)
    await port_phase(admin, stream, "ttyUSB0", "arrived")

    # STA2 checks in with the token on its chip: flashing it again unasked would strand it, so it is refused
    # before a byte is written (the check runs the registry's own rules in a write that is rolled back).
    with pytest.raises(AdminError, match="replace it to provision it again") as refused:
        await admin.usb_flash("ttyUSB0", "STA2", firmware)
    assert refused.value.status == 409
    assert len(stream.of("usb_flash_started")) == 1
    assert str(read_partition(mock.read_flash(0x9000, 0x5000))["stationmaster"]["token"].value) == old_token

    await admin.usb_flash("ttyUSB0", "STA2", firmware, replace=True)
    await port_phase(admin, stream, "ttyUSB0", "waiting")
    new_token = str(read_partition(mock.read_flash(0x9000, 0x5000))["stationmaster"]["token"].value)
    assert new_token != old_token
    await check_in(usb_service, mock.mac, "esp32", new_token)
    await port_phase(admin, stream, "ttyUSB0", "arrived")
    with pytest.raises(AssertionError, match="401"):
        await check_in(usb_service, mock.mac, "esp32", old_token)
    assert [s["name"] for s in await admin.stations()] == ["STA2"]
