"""One simulated station against a strict fake appliance: token, config, updates, refusals and resumed downloads."""

from __future__ import annotations

import hashlib
import re

import aiohttp
import pytest

from services.simulator import Behaviour, SimulatedStation, StationIdentity
from tests.imagefactory import build_image
from tests.simulator.fakeappliance import FakeAppliance, Offer

pytestmark = pytest.mark.usefixtures("server")


def station_of(chip: str = "esp32", **options: object) -> SimulatedStation:
    """A healthy station that never crashes on its own, so a test sees only what it provokes."""
    return SimulatedStation(0, seed=7, chip=chip, crash_rate=0, **options)  # type: ignore[arg-type]


def last_checkin(fake: FakeAppliance) -> dict[str, object]:
    """The body of the latest check-in the fake received."""
    return fake.checkins[-1][0]


async def test_a_station_keeps_the_token_it_is_given_and_sends_it_from_then_on(
    fake: FakeAppliance, session: aiohttp.ClientSession
) -> None:
    fake.accept_after = 2
    station = station_of()
    await station.cycle(session)
    assert (station.status, station.token) == ("pending", None)
    await station.cycle(session)
    assert station.status == "accepted"
    assert station.token is not None
    assert station.token == fake.stations[station.mac].token
    await station.cycle(session)
    assert [auth for _, auth in fake.checkins] == [None, None, f"Bearer {station.token}"]
    assert {auth for _, auth in fake.config_requests} == {f"Bearer {station.token}"}
    assert fake.violations == []
    assert station.stats.clean, station.stats.last_error


async def test_the_config_is_fetched_only_when_its_etag_changes(
    fake: FakeAppliance, session: aiohttp.ClientSession
) -> None:
    station = station_of()
    for _ in range(3):
        await station.cycle(session)
    assert [if_none_match for if_none_match, _ in fake.config_requests] == [None]
    assert station.config is not None
    assert station.config["name"] == station.mac
    fake.config_etag = '"config-2"'
    for _ in range(3):
        await station.cycle(session)
    assert [if_none_match for if_none_match, _ in fake.config_requests] == [None, '"config-1"']
    assert (station.config_etag, station.stats.config_fetches) == ('"config-2"', 2)
    assert fake.violations == []


@pytest.mark.parametrize("chip", ["esp8266", "esp32", "esp32c3"])
async def test_an_offered_image_is_installed_and_the_new_version_reported(
    chip: str, fake: FakeAppliance, session: aiohttp.ClientSession
) -> None:
    data = build_image(chip, project="sim-sensor", version="1.4.0", payload_size=20_000, seed=2)
    # An ESP8266 image has no app description: only x-Firmware-Version names it. An ESP32 one is read itself.
    fake.offers[chip] = Offer(data, version="1.4.0" if chip == "esp8266" else None)
    station = station_of(chip)
    await station.cycle(session)
    first = last_checkin(fake)
    assert (first["version"], first["restart_cause"]) == ("1.0.0", "power_on")
    kinds = fake.events_of(station.mac)
    assert kinds[0] == ("update_started", "update init")
    assert kinds[1][0] == "update_finished"
    assert re.fullmatch(r"updated to v1\.4\.0 at \d\d:\d\d", kinds[1][1])
    await station.cycle(session)
    after = last_checkin(fake)
    assert (after["version"], after["restart_cause"]) == ("1.4.0", "ota")
    assert isinstance(after["uptime_s"], int)
    assert isinstance(first["uptime_s"], int)
    assert after["uptime_s"] < first["uptime_s"], "the station rebooted into the new image"
    prefix = "x-ESP8266-" if chip == "esp8266" else "x-ESP32-"
    poll = fake.ota_requests[-1]
    assert (poll[prefix + "sketch-md5"], poll[prefix + "version"]) == (hashlib.md5(data).hexdigest(), "1.4.0")
    assert len(fake.events_of(station.mac)) == 2, "the second poll got 304: nothing more to do"
    assert fake.violations == []
    assert station.stats.updates == 1
    assert station.stats.clean


async def test_an_image_whose_md5_does_not_match_is_refused(
    fake: FakeAppliance, session: aiohttp.ClientSession
) -> None:
    fake.offers["esp8266"] = Offer(build_image("esp8266", version="1.4.0"), version="1.4.0", md5="0" * 32)
    station = station_of("esp8266")
    await station.cycle(session)
    (started, (kind, reason)) = fake.events_of(station.mac)
    assert started == ("update_started", "update init")
    assert kind == "update_failed"
    assert "MD5 Check Failed" in reason
    await station.cycle(session)
    assert (last_checkin(fake)["version"], last_checkin(fake)["restart_cause"]) == ("1.0.0", "power_on")
    assert station.stats.failed_updates == 2, "it tries again at the next poll, and fails again"
    assert station.stats.updates == 0
    assert fake.violations == []


async def test_an_image_without_the_magic_byte_is_refused(fake: FakeAppliance, session: aiohttp.ClientSession) -> None:
    fake.offers["esp32"] = Offer(b"\x00" + build_image("esp32", version="1.4.0")[1:], version=None)
    station = station_of("esp32")
    await station.cycle(session)
    assert fake.events_of(station.mac)[-1] == (
        "update_failed",
        "Verify Bin Header Failed: first byte 0x00, not 0xE9",
    )
    assert station.version == "1.0.0"


async def test_an_image_for_another_chip_is_refused_and_counted_as_an_error(
    fake: FakeAppliance, session: aiohttp.ClientSession
) -> None:
    fake.offers["esp32"] = Offer(build_image("esp32c3", version="1.4.0"), version=None)
    station = station_of("esp32")
    await station.cycle(session)
    kind, reason = fake.events_of(station.mac)[-1]
    assert kind == "update_failed"
    assert "esp32c3" in reason
    assert station.version == "1.0.0"
    assert station.stats.errors == 1


async def test_a_download_the_station_drops_resumes_with_range(
    fake: FakeAppliance, session: aiohttp.ClientSession
) -> None:
    data = build_image("esp32", project="sim-sensor", version="2.0.0", payload_size=300_000)
    fake.offers["esp32"] = Offer(data, version=None)
    station = station_of("esp32", resume_downloads=True, behaviour=Behaviour(fail_download_at=0.4))
    await station.cycle(session)
    assert fake.events_of(station.mac) == [("update_started", "update init")]
    await station.cycle(session)
    first, second = fake.ota_requests
    assert "Range" not in first
    resumed_at = int(second["Range"].removeprefix("bytes=").removesuffix("-"))
    assert 0.4 * len(data) <= resumed_at < len(data)
    assert second["If-Range"] == fake.offers["esp32"].etag
    assert [kind for kind, _ in fake.events_of(station.mac)] == ["update_started", "update_finished"]
    assert station.version == "2.0.0"
    assert station.stats.interrupted_downloads == 1
    assert fake.violations == []
    assert station.stats.clean


async def test_without_resume_a_dropped_download_fails_and_starts_over(
    fake: FakeAppliance, session: aiohttp.ClientSession
) -> None:
    fake.offers["esp8266"] = Offer(build_image("esp8266", version="2.0.0", payload_size=200_000), version="2.0.0")
    station = station_of("esp8266", behaviour=Behaviour(fail_download_at=0.5))
    await station.cycle(session)
    kind, reason = fake.events_of(station.mac)[-1]
    assert kind == "update_failed"
    assert reason.startswith("download broke off at")
    await station.cycle(session)
    assert all("Range" not in request for request in fake.ota_requests)
    assert station.version == "2.0.0"
    assert fake.violations == []


async def test_a_download_the_appliance_breaks_off_is_resumed(
    fake: FakeAppliance, session: aiohttp.ClientSession
) -> None:
    data = build_image("esp32c3", version="2.1.0", payload_size=200_000)
    fake.offers["esp32c3"] = Offer(data, version=None, break_after=64 * 1024)
    station = station_of("esp32c3", resume_downloads=True)
    await station.cycle(session)
    assert station.stats.connection_errors == 1, "a broken link is counted"
    await station.cycle(session)
    resumed_at = int(fake.ota_requests[1]["Range"].removeprefix("bytes=").removesuffix("-"))
    assert 0 < resumed_at <= 64 * 1024
    assert station.version == "2.1.0"
    assert fake.violations == []


async def test_a_refused_station_carries_on_without_error(fake: FakeAppliance, session: aiohttp.ClientSession) -> None:
    station = station_of("esp8266")
    fake.barred.add(station.mac)
    await station.cycle(session)
    await station.cycle(session)
    assert station.stats.refused == 4, "check-in and /ota, twice"
    assert station.stats.errors == 0
    assert fake.violations == []


async def test_a_station_that_reports_its_old_version_and_crashes_after_updating(
    fake: FakeAppliance, session: aiohttp.ClientSession
) -> None:
    data = build_image("esp32", version="3.0.0")
    fake.offers["esp32"] = Offer(data, version=None)
    station = station_of("esp32", behaviour=Behaviour(report_old_version=True, crash_after_update=True))
    await station.cycle(session)
    await station.cycle(session)
    await station.cycle(session)
    assert (last_checkin(fake)["version"], last_checkin(fake)["restart_cause"]) == ("1.0.0", "watchdog")
    assert station.running_version == "3.0.0"
    assert station.stats.restarts == 2
    assert fake.ota_requests[-1]["x-ESP32-sketch-md5"] == hashlib.md5(data).hexdigest()
    assert station.stats.updates == 1, "its sketch MD5 tells the appliance it already runs the image"


def test_a_station_is_the_same_station_for_the_same_seed_and_index() -> None:
    assert StationIdentity.derive(5, 17) == StationIdentity.derive(5, 17)
    assert StationIdentity.derive(5, 17).mac != StationIdentity.derive(6, 17).mac
    identities = [StationIdentity.derive(5, index) for index in range(300)]
    assert len({identity.mac for identity in identities}) == 300
    assert all(identity.mac.startswith("02:") for identity in identities), "locally administered"
    assert {identity.chip for identity in identities[:3]} == {"esp8266", "esp32", "esp32c3"}
