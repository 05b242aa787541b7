"""The Improv client against an ESPHome station on a pseudo-terminal: probe, hand over Wi-Fi, and the ways it
goes wrong. The station (tests/improv/station.py) follows ESPHome's improv_serial on sdk-cpp 1.2.4."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
import serial

from services.adapters.improv import ImprovClient, ImprovFailed, ImprovState, ProvisionResult
from services.adapters.usb.ports import open_quietly
from tests.improv.station import (
    CURRENT_STATE,
    DEVICE_INFO,
    PROVISIONED,
    SEND_WIFI,
    ImprovStation,
    PtyStation,
    improv_station,
)

SITE = {"AP1": "correct horse battery"}
# Far longer than the device's own time-outs (ESPHome gives up on a network after 30 s, 90 s when switching):
# a call that ends does so because of what the device said, not because this ran out.
PATIENT_S = 600.0
GUARD_S = 15.0  # how long the test waits for such a call before calling it stuck

T = TypeVar("T")


@pytest.fixture
def ready_station() -> Iterator[PtyStation]:
    with improv_station(ImprovStation(networks=dict(SITE))) as station:
        yield station


def opened(station: PtyStation) -> serial.Serial:
    return open_quietly(station.path)


def finishes(call: Callable[[], T]) -> T:
    """The outcome of `call`, which must end well before GUARD_S; a stuck call fails the test instead."""
    pool = ThreadPoolExecutor(1)
    try:
        return pool.submit(call).result(timeout=GUARD_S)
    finally:
        pool.shutdown(wait=False)  # a stuck call ends when the test closes its port


def hand_over(station: ImprovStation) -> ProvisionResult:
    """Hand the site's AP1 to `station` on a pty, patiently (the call must still end well before GUARD_S)."""
    with improv_station(station) as running, opened(running) as link:
        client = ImprovClient(link)
        return finishes(lambda: client.provision("AP1", SITE["AP1"], timeout_s=PATIENT_S))


def commands(station: PtyStation) -> list[int]:
    return [command for command, _ in station.station.received]


def test_probe_reads_the_state_and_what_the_device_is(ready_station: PtyStation) -> None:
    with opened(ready_station) as link:
        report = ImprovClient(link).probe(within_s=3)
    assert report is not None
    assert report.state == ImprovState.AUTHORIZED
    assert report.device is not None
    device = report.device
    assert (device.firmware, device.version, device.chip, device.name) == (
        "ESPHome",
        "2024.6.1",
        "ESP32-C3",
        "kitchen-light",
    )
    # The device-info request went right after the state's answer and still reached the device.
    assert commands(ready_station)[-1] == DEVICE_INFO


def test_a_device_info_request_lost_on_the_line_is_asked_once_more() -> None:
    station = ImprovStation(lose_once={DEVICE_INFO})
    with improv_station(station) as running, opened(running) as link:
        report = ImprovClient(link).probe(within_s=3)
    assert report is not None
    assert report.device is not None
    assert report.device.name == "kitchen-light"


def test_the_right_password_joins_and_gives_the_station_s_url(ready_station: PtyStation) -> None:
    states: list[int] = []
    with opened(ready_station) as link:
        client = ImprovClient(link)
        outcome = finishes(lambda: client.provision("AP1", SITE["AP1"], timeout_s=PATIENT_S, on_state=states.append))
    assert ready_station.provisioned.is_set()
    assert outcome.urls == ("http://10.0.0.42:80",)
    assert states == [ImprovState.PROVISIONING, ImprovState.PROVISIONED]
    command, body = ready_station.station.received[-1]
    assert command == SEND_WIFI
    assert body[2:] == b"\x03AP1\x15correct horse battery"


def test_one_request_right_after_another_reaches_the_device(ready_station: PtyStation) -> None:
    with opened(ready_station) as link:
        client = ImprovClient(link)
        assert client.probe(within_s=3) is not None
        outcome = finishes(lambda: client.provision("AP1", SITE["AP1"], timeout_s=PATIENT_S))
    assert commands(ready_station) == [CURRENT_STATE, DEVICE_INFO, SEND_WIFI]
    assert outcome.urls == ("http://10.0.0.42:80",)


def test_the_next_url_comes_first_and_a_device_without_web_server_gives_none() -> None:
    outcome = hand_over(ImprovStation(networks=dict(SITE), next_url="https://example.org/welcome"))
    assert outcome.urls == ("https://example.org/welcome", "http://10.0.0.42:80")
    outcome = hand_over(ImprovStation(networks=dict(SITE), webserver_port=None))
    assert (outcome.state, outcome.urls) == (ImprovState.PROVISIONED, ())


def test_a_hand_over_whose_url_is_garbled_still_ends_soon_after_provisioned() -> None:
    outcome = hand_over(ImprovStation(networks=dict(SITE), garble_urls=True))
    assert (outcome.state, outcome.urls) == (ImprovState.PROVISIONED, ())


def test_a_provisioned_station_reports_its_url_when_probed() -> None:
    with improv_station(ImprovStation(state=PROVISIONED, ip="10.0.0.7")) as station, opened(station) as link:
        client = ImprovClient(link)
        report = finishes(lambda: client.probe(within_s=PATIENT_S))
    assert report is not None
    assert (report.state, report.urls) == (ImprovState.PROVISIONED, ("http://10.0.0.7:80",))
    assert report.device is not None


def test_a_provisioned_station_whose_url_is_garbled_is_probed_without_waiting_out_the_probe() -> None:
    station = ImprovStation(state=PROVISIONED, garble_urls=True)
    with improv_station(station) as running, opened(running) as link:
        client = ImprovClient(link)
        report = finishes(lambda: client.probe(within_s=PATIENT_S))
    assert report is not None
    assert (report.state, report.urls) == (ImprovState.PROVISIONED, ())


def test_a_wrong_password_is_reported_by_its_improv_code_in_words() -> None:
    # ESPHome says nothing until its own connect time-out (30 s), shortened here, then "unable to connect".
    station = ImprovStation(networks=dict(SITE), connect_timeout_s=1.0)
    with improv_station(station) as running, opened(running) as link:
        client = ImprovClient(link)
        with pytest.raises(ImprovFailed) as failure:
            finishes(lambda: client.provision("AP1", "not the password", timeout_s=PATIENT_S))
    assert failure.value.improv_code == 0x03
    assert "wrong password" in failure.value.message
    assert "[Improv error 0x03]" in failure.value.message
    assert "not the password" not in failure.value.message
    assert station.state == 0x02  # ready again, as on_wifi_connect_timeout_ leaves it


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
