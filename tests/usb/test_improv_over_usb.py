"""The Improv road through the service: a station whose firmware speaks Improv is plugged in, detected, handed
the site Wi-Fi and gives back its address; a wrong password and a station that goes quiet are told in words.

The station is tests/improv/station.py on a pty, following ESPHome's improv_serial on sdk-cpp 1.2.4; the rest is
the real service.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from appliance.contract.client import AdminClient, AdminError
from services.root.service import StationmasterService
from tests.improv.station import ImprovStation, improv_station
from tests.usb.conftest import Stream, about, port_phase

PSK = "correct horse battery"


QUIET = {"usb_improv_timeout_s": 2}  # how long a quiet station is given after the credentials


@pytest.fixture
def usb_overrides() -> dict[str, Any]:
    # Far beyond the device's own time-outs: a hand-over ends because of what the station said.
    return {"usb_improv_timeout_s": 600}


async def test_an_improv_station_is_detected_joins_the_site_wifi_and_gives_its_url(
    usb_service: StationmasterService, admin: AdminClient, stream: Stream, devices: Path
) -> None:
    await admin.add_wifi("AP1", PSK, priority=10)
    await admin.add_wifi("AP0-old", "older password", priority=1)
    station = ImprovStation(networks={"AP1": PSK})
    with improv_station(station, devices / "ttyUSB0"):
        detected = await stream.wait_for(about("improv_detected", "ttyUSB0"))
        assert "kitchen-light (ESPHome 2024.6.1 on ESP32-C3) speaks Improv: ready for Wi-Fi" in detected["message"]
        port = await admin.usb_port("ttyUSB0")
        assert (port["phase"], port["improv"]) == ("improv", "ready for Wi-Fi credentials")

        started = await admin.usb_wifi("ttyUSB0")
        assert started["job"]["detail"] == "AP1"  # the site's first network by priority
        joined = await stream.wait_for(about("improv_provisioned", "ttyUSB0"), within=10)
        assert joined["message"] == "ttyUSB0: kitchen-light joined AP1: http://10.0.0.42:80"
        port = await port_phase(admin, stream, "ttyUSB0", "joined")
        assert port["urls"] == ["http://10.0.0.42:80"]
        stages = [m["stage"] for m in stream.of("improv_progress", "ttyUSB0")]
        assert stages == ["joining the network", "on the network"]
        assert station.state == 0x04
    assert PSK not in str(stream.messages)
    assert not stream.of("usb_port_identified")  # an Improv station is never reset into its bootloader


async def test_a_wrong_password_is_reported_by_its_improv_code_in_words_and_can_be_retried(
    usb_service: StationmasterService, admin: AdminClient, stream: Stream, devices: Path
) -> None:
    await admin.add_wifi("AP1", "what the appliance was told")
    station = ImprovStation(networks={"AP1": PSK}, connect_timeout_s=1.0)  # ESPHome's 30 s, shortened
    with improv_station(station, devices / "ttyUSB0"):
        await stream.wait_for(about("improv_detected", "ttyUSB0"))
        await admin.usb_wifi("ttyUSB0", ssid="AP1")
        failed = await stream.wait_for(about("improv_failed", "ttyUSB0"), within=10)
        assert "kitchen-light did not join AP1" in failed["message"]
        assert (
            "a wrong password, or the network out of reach (unable to connect) [Improv error 0x03]"
            in (failed["message"])
        )
        assert failed["data"]["improv_error"] == 3
        port = await port_phase(admin, stream, "ttyUSB0", "failed")
        assert port["present"] is True
        with pytest.raises(AdminError, match="the site has no network 'AP9'; it has AP1"):
            await admin.usb_wifi("ttyUSB0", ssid="AP9")
        await admin.usb_wifi("ttyUSB0")  # a failed hand-over may be tried again
        assert len([m for m in stream.messages if m.get("kind") == "usb_port_changed"]) > 0
    assert "what the appliance was told" not in str(stream.messages)


@pytest.mark.parametrize("usb_overrides", [QUIET])
async def test_a_station_that_never_answers_the_credentials_fails_on_time(
    usb_service: StationmasterService, admin: AdminClient, stream: Stream, devices: Path
) -> None:
    await admin.add_wifi("AP1", PSK)
    with improv_station(ImprovStation(networks={"AP1": PSK}, mute_after_settings=True), devices / "ttyUSB0"):
        await stream.wait_for(about("improv_detected", "ttyUSB0"))
        await admin.usb_wifi("ttyUSB0")
        failed = await stream.wait_for(about("improv_failed", "ttyUSB0"), within=10)
        assert "never answered the Wi-Fi settings within 2 s" in failed["message"]
        assert failed["data"]["improv_error"] is None


async def test_wifi_goes_only_to_a_port_that_answered_improv(
    usb_service: StationmasterService, admin: AdminClient, stream: Stream, devices: Path
) -> None:
    await admin.add_wifi("AP1", PSK)
    with improv_station(ImprovStation(silent=True), devices / "ttyUSB0"):
        await stream.wait_for(about("usb_port_unidentified", "ttyUSB0"), within=15)
        with pytest.raises(AdminError, match="did not answer Improv") as refused:
            await admin.usb_wifi("ttyUSB0")
        assert refused.value.status == 409
