"""Provisioning: a station known only by its token becomes a station row at its first check-in."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from appliance.contract.client import AdminClient
from services.core.errors import Conflict, InvalidInput, NotFound
from services.domain.onboarding.nvs import NAMESPACE
from services.domain.onboarding.provisioning import ApplianceReach, Provisioned, Provisioning
from services.domain.sitewifi import SiteWifi
from services.root.service import StationmasterService
from services.store.journal import Journal
from tests.imagefactory import build_image
from tests.nvsformat import read_partition

STA2_MAC = "24:0A:C4:12:34:56"


@pytest.fixture
async def provisioning(service: StationmasterService) -> Provisioning:
    """The domain on the running service's registry, with one site network."""
    assert service.registry is not None
    journal = Journal(service.registry, service.bus)
    await SiteWifi(journal).add("AP1", "broome-secret-1", priority=10)
    return Provisioning(journal)


def reach(service: StationmasterService) -> ApplianceReach:
    """Where the test's stations find the service."""
    return ApplianceReach("stationmaster.local", "127.0.0.1", service.station_port)


def token_in(provisioned: Provisioned) -> str:
    """The token as a station reads it from its NVS image."""
    value = read_partition(provisioned.nvs)[NAMESPACE]["token"].value
    assert isinstance(value, str)
    return value


async def check_in(http: aiohttp.ClientSession, mac: str, token: str | None = None, **fields: Any) -> tuple[int, Any]:
    """One check-in; (status, answer)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"mac": mac, "chip": "esp32", "version": "1.0.0", "ip": "10.0.0.9", **fields}
    async with http.post("/api/v1/checkin", json=body, headers=headers) as response:
        return response.status, await response.json()


async def test_a_station_known_only_by_its_token_arrives_under_the_mac_it_reports(
    service: StationmasterService, provisioning: Provisioning, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    made = await provisioning.provision("STA2", "esp32", reach=reach(service))
    assert made.provision.mac is None
    assert made.token == token_in(made)
    assert [p.name for p in await provisioning.awaiting()] == ["STA2"]
    assert await admin.stations() == [], "no station row until it checks in"

    status, answer = await check_in(http, STA2_MAC, token_in(made))
    assert (status, answer["status"]) == (200, "accepted")
    assert "token" not in answer, "it already holds its token"
    assert answer["config_etag"], "its config is ready for it"
    station = await admin.station(STA2_MAC)
    assert (station["name"], station["status"], station["chip"], station["has_token"]) == (
        "STA2",
        "accepted",
        "esp32",
        True,
    )
    assert station["last_seen_at"] is not None
    arrived = await admin.events(kind="station_arrived")
    assert [e["message"] for e in arrived] == ["STA2 arrived"]
    assert await provisioning.awaiting() == []
    # From then on the token is the station's own: the config, and a check-in without it is refused.
    async with http.get("/api/v1/config", headers={"Authorization": f"Bearer {made.token}"}) as response:
        assert (await response.json())["name"] == "STA2"
    assert (await check_in(http, STA2_MAC))[0] == 401
    assert (await check_in(http, STA2_MAC, made.token))[0] == 200
    assert len(await admin.events(kind="station_arrived")) == 1, "it arrives once"


async def test_the_token_cannot_be_used_by_a_second_device(
    service: StationmasterService, provisioning: Provisioning, http: aiohttp.ClientSession
) -> None:
    made = await provisioning.provision("STA2", "esp32", reach=reach(service))
    assert (await check_in(http, STA2_MAC, made.token))[0] == 200
    status, answer = await check_in(http, "24:0A:C4:99:99:99", made.token)
    assert (status, answer["error"]["code"]) == (401, "unauthorized")


async def test_a_known_mac_is_an_accepted_station_at_once_and_must_bring_its_token(
    service: StationmasterService, provisioning: Provisioning, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    made = await provisioning.provision("STA2", "ESP32-C3", mac="24-0a-c4-12-34-56", reach=reach(service))
    station = await admin.station(STA2_MAC)
    assert (station["status"], station["last_seen_at"], station["chip"]) == ("accepted", None, "esp32c3")
    image = await admin.import_image(build_image("esp32c3", project="weather", version="2.0.0"), "w.bin")
    await admin.assign(image["sha256"], station=STA2_MAC)  # its firmware can wait for it
    assert (await check_in(http, STA2_MAC))[0] == 401, "an awaited station checks in with the token it was given"
    assert (await check_in(http, STA2_MAC, made.token, chip="esp32c3"))[0] == 200
    assert [e["message"] for e in await admin.events(kind="station_arrived")] == ["STA2 arrived"]


async def test_a_pending_station_flashed_with_a_bundle_keeps_its_history(
    service: StationmasterService, provisioning: Provisioning, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    assert (await check_in(http, STA2_MAC, uptime_s=50))[0] == 200
    before = await admin.checkins(STA2_MAC)
    assert (await admin.station(STA2_MAC))["status"] == "pending"
    made = await provisioning.provision("STA2", "esp32", reach=reach(service))
    assert (await check_in(http, STA2_MAC, made.token, uptime_s=3))[0] == 200
    station = await admin.station(STA2_MAC)
    assert (station["name"], station["status"]) == ("STA2", "accepted")
    history = await admin.checkins(STA2_MAC)
    assert history[-len(before) :] == before, "the check-ins from before the bundle are still there"
    assert "station_discovered" in [e["kind"] for e in await admin.events(mac=STA2_MAC)]


async def test_nothing_is_recorded_when_no_image_can_be_made(
    service: StationmasterService, provisioning: Provisioning, admin: AdminClient
) -> None:
    with pytest.raises(InvalidInput, match="ESP8266 firmware has no NVS"):
        await provisioning.provision("STA3", "esp8266", reach=reach(service))
    with pytest.raises(InvalidInput, match="no Wi-Fi radio"):
        await provisioning.provision("STA3", "esp32h2", reach=reach(service))
    with pytest.raises(InvalidInput, match="not a MAC"):
        await provisioning.provision("STA3", "esp32", mac="nope", reach=reach(service))
    with pytest.raises(InvalidInput, match="a name is"):
        await provisioning.provision("", "esp32", reach=reach(service))
    assert await provisioning.awaiting() == []
    assert await admin.events(kind="bundle_made") == []


async def test_without_site_wifi_there_is_nothing_to_give(service: StationmasterService) -> None:
    assert service.registry is not None
    bare = Provisioning(Journal(service.registry, service.bus))
    with pytest.raises(InvalidInput, match="no Wi-Fi network yet"):
        await bare.provision("STA2", "esp32", reach=reach(service))


async def test_names_are_not_taken_twice_and_replacing_revokes_the_first_token(
    service: StationmasterService, provisioning: Provisioning, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    first = await provisioning.provision("STA2", "esp32", reach=reach(service))
    with pytest.raises(Conflict, match="already awaiting"):
        await provisioning.provision("sta2", "esp32", reach=reach(service))
    second = await provisioning.provision("STA2", "esp32", reach=reach(service), replace=True)
    assert first.token != second.token
    assert (await check_in(http, STA2_MAC, first.token))[0] == 401, "the replaced bundle's token no longer works"
    assert (await check_in(http, STA2_MAC, second.token))[0] == 200
    with pytest.raises(Conflict, match="already used by station"):
        await provisioning.provision("STA2", "esp32", reach=reach(service))
    await check_in(http, "24:0A:C4:00:00:77")
    await provisioning.provision("STA7", "esp32", reach=reach(service))
    with pytest.raises(Exception, match="awaiting its arrival"):
        await admin.rename("24:0A:C4:00:00:77", "sta7")


async def test_an_online_station_is_not_provisioned_again_by_mistake(
    service: StationmasterService, provisioning: Provisioning, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    made = await provisioning.provision("STA2", "esp32", mac=STA2_MAC, reach=reach(service))
    assert (await check_in(http, STA2_MAC, made.token))[0] == 200
    with pytest.raises(Conflict, match="already checking in"):
        await provisioning.provision("STA2b", "esp32", mac=STA2_MAC, reach=reach(service))
    again = await provisioning.provision("STA2b", "esp32", mac=STA2_MAC, reach=reach(service), replace=True)
    assert (await check_in(http, STA2_MAC, made.token))[0] == 401
    assert (await check_in(http, STA2_MAC, again.token))[0] == 200
    assert (await admin.station(STA2_MAC))["name"] == "STA2b"


async def test_cancelling_forgets_the_token_and_the_row_it_made(
    service: StationmasterService, provisioning: Provisioning, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    token_only = await provisioning.provision("STA2", "esp32", reach=reach(service))
    with_mac = await provisioning.provision("STA3", "esp32", mac="24:0A:C4:00:00:03", reach=reach(service))
    assert len(await admin.stations()) == 1
    await provisioning.cancel("sta2")
    await provisioning.cancel("STA3")
    assert await admin.stations() == []
    assert (await check_in(http, STA2_MAC, token_only.token))[0] == 401
    assert (await check_in(http, "24:0A:C4:00:00:03", with_mac.token))[0] == 401
    with pytest.raises(NotFound):
        await provisioning.cancel("STA2")
    assert [e["kind"] for e in await admin.events(kind="bundle_cancelled")] == ["bundle_cancelled"] * 2
