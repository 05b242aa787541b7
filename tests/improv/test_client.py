"""The Improv client against a station on a pseudo-terminal: probe, hand over Wi-Fi, and the ways it goes wrong."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import serial

from services.improv import ImprovClient, ImprovFailed, ImprovState
from services.usb.ports import open_quietly
from tests.improv.station import SEND_WIFI, ImprovStation, PtyStation, improv_station

SITE = {"AP1": "correct horse battery"}


@pytest.fixture
def ready_station() -> Iterator[PtyStation]:
    with improv_station(ImprovStation(networks=dict(SITE))) as station:
        yield station


def opened(station: PtyStation) -> serial.Serial:
    return open_quietly(station.path)


def test_probe_reads_the_state_and_what_the_device_is(ready_station: PtyStation) -> None:
    with opened(ready_station) as link:
        report = ImprovClient(link).probe(within_s=3)
    assert report is not None
    assert report.state == ImprovState.AUTHORIZED
    assert report.device is not None
    assert (report.device.firmware, report.device.chip, report.device.name) == ("ESPHome", "ESP32-C3", "kitchen-light")


def test_the_right_password_joins_and_gives_the_station_s_url(ready_station: PtyStation) -> None:
    states: list[int] = []
    with opened(ready_station) as link:
        outcome = ImprovClient(link).provision("AP1", SITE["AP1"], timeout_s=5, on_state=states.append)
    assert outcome.urls == ("http://10.0.0.42",)
    assert states == [ImprovState.PROVISIONING, ImprovState.PROVISIONED]
    command, body = ready_station.station.received[-1]
    assert command == SEND_WIFI
    assert body[2:] == b"\x03AP1\x15correct horse battery"


def test_a_provisioned_station_reports_its_url_when_probed() -> None:
    with improv_station(ImprovStation(state=0x04, url="http://10.0.0.7/")) as station, opened(station) as link:
        report = ImprovClient(link).probe(within_s=3)
    assert report is not None
    assert (report.state, report.urls) == (ImprovState.PROVISIONED, ("http://10.0.0.7/",))


def test_a_wrong_password_is_reported_by_its_improv_code_in_words(ready_station: PtyStation) -> None:
    with opened(ready_station) as link, pytest.raises(ImprovFailed) as failure:
        ImprovClient(link).provision("AP1", "not the password", timeout_s=5)
    assert failure.value.improv_code == 0x03
    assert "wrong password" in failure.value.message
    assert "[Improv error 0x03]" in failure.value.message
    assert "not the password" not in failure.value.message


def test_a_silent_port_is_not_improv_and_the_probe_ends_on_time() -> None:
    with improv_station(ImprovStation(silent=True)) as station, opened(station) as link:
        started = time.monotonic()
        assert ImprovClient(link).probe(within_s=1.0) is None
        assert time.monotonic() - started < 2.0


def test_a_station_that_never_answers_the_credentials_times_out_saying_so() -> None:
    mute = ImprovStation(networks=dict(SITE), mute_after_settings=True)
    never_answered = "never answered the Wi-Fi settings within 1 s"
    with improv_station(mute) as station, opened(station) as link, pytest.raises(ImprovFailed, match=never_answered):
        ImprovClient(link).provision("AP1", SITE["AP1"], timeout_s=1)
