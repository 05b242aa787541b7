"""The on-site USB road end to end: a chip is plugged in, identified, flashed with its config, and checks in.

The chip is the ROM-bootloader simulator on a pty (tests/usb/mockchip.py); the service, esptool, the admin
API and its event stream, the NVS image and the station API are all real.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from appliance.contract.client import AdminClient
from appliance.runtime import quiet_libraries
from services.root.service import StationmasterService
from tests.imagefactory import build_image
from tests.nvsformat import read_partition
from tests.usb.conftest import Stream, about, port_phase
from tests.usb.mockchip import MockChip, md5

Plug = Callable[[str, str], MockChip]
PSK = "correct horse battery"


async def identified(stream: Stream, name: str) -> dict[str, Any]:
    return await stream.wait_for(about("usb_port_identified", name))


async def check_in(service: StationmasterService, mac: str, chip: str, token: str | None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"mac": mac, "chip": chip, "version": "1.0.0", "ip": "10.0.0.23", "rssi": -61}
    async with (
        aiohttp.ClientSession(service.station_url) as http,
        http.post("/api/v1/checkin", json=body, headers=headers) as answer,
    ):
        assert answer.status == 200, await answer.text()
        result: dict[str, Any] = await answer.json()
        return result


@pytest.mark.parametrize("chip", ["esp32", "esp32c3", "esp8266"])
async def test_a_plugged_in_chip_is_flashed_registered_and_checks_in(
    chip: str,
    usb_service: StationmasterService,
    admin: AdminClient,
    stream: Stream,
    chips: Plug,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # esptool's own narration included, as under --log-level debug
    quiet_libraries()
    await admin.add_wifi("AP1", PSK)
    app = build_image(chip, project="weather", version="2.0.0", payload_size=200_000)
    image = await admin.import_image(app, "weather.bin", project="weather", version="2.0.0")
    mock = chips(chip, "ttyUSB0")

    found = await identified(stream, "ttyUSB0")
    assert mock.mac in found["message"]
    [port] = await admin.usb_ports()
    assert (port["phase"], port["chip"], port["mac"]) == ("ready", chip, mock.mac)

    started = await admin.usb_flash("ttyUSB0", "STA2", image["sha256"][:12])
    assert started["phase"] == "flashing"
    finished = await stream.wait_for(about("usb_flash_finished", "ttyUSB0"))
    assert finished["mac"] == mock.mac
    await port_phase(admin, stream, "ttyUSB0", "waiting")  # reset and let go of the port: readable now

    progress = stream.of("usb_flash_progress", "ttyUSB0")
    percents = [m["percent"] for m in progress]
    assert percents == sorted(percents)
    assert percents[-1] >= 98
    stages = {m["stage"] for m in progress}
    assert {"writing the firmware", "verifying", "verified", "registering"} <= stages
    station = await admin.station(mock.mac)
    assert (station["name"], station["status"], station["chip"]) == ("STA2", "accepted", chip)

    app_at = 0x0 if chip == "esp8266" else 0x10000
    assert mock.flash_md5(app_at, len(app)) == md5(app)
    if chip == "esp8266":
        # No NVS on an ESP8266: it is accepted by its MAC and handed its token when it first checks in.
        assert station["has_token"] is False
        token = (await check_in(usb_service, mock.mac, chip, None))["token"]
    else:
        assert "writing the config" in stages
        settings = read_partition(mock.read_flash(0x9000, 0x5000))["stationmaster"]
        assert settings["name"].value == "STA2"
        assert settings["wifi0_ssid"].value == "AP1"
        assert settings["wifi0_psk"].value == PSK
        token = str(settings["token"].value)
        assert (await check_in(usb_service, mock.mac, chip, token))["status"] == "accepted"

    port = await port_phase(admin, stream, "ttyUSB0", "arrived")
    assert port["message"] == "STA2 arrived (checked in from 10.0.0.23)"
    assert port["station"]["name"] == "STA2"
    assert any(m.get("kind") == "station_arrived" and m.get("mac") == mock.mac for m in stream.messages)
    assert token not in str(stream.messages)  # the token went into the chip, never onto the stream
    assert PSK not in str(stream.messages)
    assert token not in caplog.text  # nor into the log
    assert PSK not in caplog.text
