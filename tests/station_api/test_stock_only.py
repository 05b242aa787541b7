"""A station with nothing but its core's stock update client is seen, watched and updated like any other.

The stations here never send a JSON check-in: they are the simulator's stock-only stations, whose headers,
answer handling and flashed-sketch digests follow ESP8266httpUpdate.cpp, Updater.cpp and Esp.cpp of the
esp8266 core and arduino-esp32's HTTPUpdate (services/simulator/otaclient.py says which file and version).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from appliance.contract.client import AdminClient, AdminError
from services.domain.fleet.cadence import Cadence
from services.root.service import StationmasterService
from services.simulator import Behaviour
from services.simulator.otaclient import FLASH_DOUT, running_sketch_after
from services.simulator.station import SimulatedStation
from tests.cli.test_exit_codes import stationmaster
from tests.conftest import loose, make_settings
from tests.imagefactory import build_image
from tests.stationkit import accepted, event_stream, next_event
from tests.stock_clients import esp32_httpupdate_headers, esp8266_httpupdate_headers, esp_https_ota_headers

STOCK_ONLY = Behaviour(stock_only=True)


def stock_station(chip: str, index: int) -> SimulatedStation:
    """A stock-only station of `chip` that never crashes by itself (its polls are driven one by one)."""
    return SimulatedStation(index, chip=chip, behaviour=STOCK_ONLY, crash_rate=0.0)


async def poll(station: SimulatedStation, http: aiohttp.ClientSession) -> str:
    """One poll of /ota by the station's stock client; returns how it ended (no_update, downloaded, ...)."""
    return (await station.poll_ota(http)).outcome


async def takes_image(station: SimulatedStation, http: aiohttp.ClientSession, admin: AdminClient) -> None:
    """One poll that downloads an image; returns once the appliance has logged the download (a real station
    reboots before it polls again, so it never polls before that)."""
    async with event_stream(admin) as events:
        assert await poll(station, http) == "downloaded"
        await next_event(events, lambda e: e["kind"] == "download_finished" and e["mac"] == station.mac)


async def downloads(admin: AdminClient, mac: str) -> int:
    """How many complete downloads the appliance logged for the station."""
    return len(await admin.events(mac=mac, kind="download_finished"))


async def test_a_stock_only_esp8266_is_seen_accepted_updated_and_left_alone(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    sta1 = stock_station("esp8266", 6)
    assert sta1.identity.flash_mode == FLASH_DOUT  # a cheap module: the Updater rewrites the header it is given
    assert await poll(sta1, http) == "no_update"
    found = await admin.station(sta1.mac)
    assert (found["status"], found["chip"], found["version"]) == ("pending", "esp8266", None)
    assert found["last_seen_at"] is not None
    assert (found["sketch_md5"], found["sketch_size"]) == (sta1.sketch.md5, sta1.sketch.size)
    assert found["free_sketch_space"] == sta1.sketch.free_space
    assert found["sdk_version"] == "2.2.2-dev(38a443e)"
    assert found["ota_client"] == "ESP8266httpUpdate (ESP8266-http-Update)"
    assert found["ip"] == "127.0.0.1"  # where its polls come from: on a site's LAN, the station itself

    await admin.accept(sta1.mac)
    assert await poll(sta1, http) == "no_update"
    assert (await admin.station(sta1.mac))["state"] == "online"

    data = build_image("esp8266", project="weather", version="2.0.0", payload_size=32 * 1024)
    image = await admin.import_image(data, "weather.ino.bin", project="weather", version="2.0.0")
    await admin.assign(image["sha256"], station=sta1.mac)
    await takes_image(sta1, http, admin)
    # In flash, byte 2 now says DOUT: the sketch's MD5 is of no file in the library.
    assert sta1.sketch.md5 not in (hashlib.md5(data).hexdigest(), image["md5"])

    for _ in range(3):
        assert await poll(sta1, http) == "no_update"
    after = await admin.station(sta1.mac)
    assert (after["version"], after["project"], after["ota_note"]) == ("2.0.0", "weather", None)
    assert await downloads(admin, sta1.mac) == 1
    [changed] = await admin.events(mac=sta1.mac, kind="version_changed")
    assert "now runs 2.0.0" in changed["message"]


async def test_an_esp32c3_stock_station_gets_a_tag_image_once_its_chip_is_known(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    sta = stock_station("esp32c3", 2)
    await poll(sta, http)
    await admin.accept(sta.mac)
    await poll(sta, http)
    found = await admin.station(sta.mac)
    assert (found["state"], found["chip"]) == ("online", None)  # x-ESP32-* headers do not name the model

    data = build_image("esp32c3", project="weather", version="2.0.0", payload_size=16 * 1024)
    image = await admin.import_image(data, "weather-c3.bin")
    await admin.tag(sta.mac, add=["garden"])
    await admin.assign(image["sha256"], tag="garden")
    assert await poll(sta, http) == "no_update"
    held = loose(await admin.station(sta.mac))
    assert "has not said which ESP32 chip it is" in held["ota_note"]
    assert f"stationmaster stations set-chip {sta.mac} esp32c3" in held["ota_note"]

    chosen = await admin.set_chip(sta.mac, "esp32c3")
    assert chosen["chip"] == "esp32c3"
    await takes_image(sta, http, admin)
    for _ in range(2):
        assert await poll(sta, http) == "no_update"
    after = await admin.station(sta.mac)
    assert (after["version"], after["ota_note"]) == ("2.0.0", None)  # told by the sketch's SHA-256
    assert await downloads(admin, sta.mac) == 1


async def test_an_image_assigned_to_the_station_itself_tells_its_chip(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    sta = stock_station("esp32c3", 5)
    await poll(sta, http)
    await admin.accept(sta.mac)
    image = await admin.import_image(build_image("esp32c3", version="3.0.0"), "c3.bin")
    await admin.assign(image["sha256"], station=sta.mac)
    [learned] = await admin.events(mac=sta.mac, kind="station_chip_learned")
    assert "the admin assigned it" in learned["message"]
    assert (await admin.station(sta.mac))["chip"] == "esp32c3"
    await takes_image(sta, http, admin)
    assert await poll(sta, http) == "no_update"


async def test_a_running_library_image_tells_an_esp32_station_its_chip(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    data = build_image("esp32c3", version="1.5.0")
    await admin.import_image(data, "c3.bin")
    sta = stock_station("esp32c3", 8)
    sta.sketch = running_sketch_after("esp32c3", sta.mac, data, sta.sketch.free_space)  # shipped with this image
    await poll(sta, http)
    found = await admin.station(sta.mac)
    assert (found["chip"], found["version"]) == ("esp32c3", "1.5.0")
    [learned] = await admin.events(mac=sta.mac, kind="station_chip_learned")
    assert "built for that chip" in learned["message"]


async def test_the_admin_cannot_give_a_station_a_chip_of_another_family(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    sta = stock_station("esp32c3", 11)
    await poll(sta, http)
    with pytest.raises(AdminError, match="cannot be an esp8266") as refused:
        await admin.set_chip(sta.mac, "esp8266")
    assert refused.value.status == 400
    with pytest.raises(AdminError, match="unknown chip"):
        await admin.set_chip(sta.mac, "esp99")
    assert (await admin.station(sta.mac))["chip"] is None


async def test_an_update_that_never_takes_is_stopped_told_and_tried_again_when_cleared(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    # Its new image falls over at boot and the bootloader goes back to the old one: same MD5, every time.
    sta = SimulatedStation(4, chip="esp32", behaviour=Behaviour(stock_only=True, boots_old_image=True), crash_rate=0)
    await poll(sta, http)
    await admin.accept(sta.mac)
    image = await admin.import_image(build_image("esp32", version="2.0.0"), "esp32.bin")
    await admin.assign(image["sha256"], station=sta.mac)
    for _ in range(2):
        await takes_image(sta, http, admin)
    assert await poll(sta, http) == "no_update"
    assert await poll(sta, http) == "no_update"
    assert await downloads(admin, sta.mac) == 2
    [alert] = await admin.alerts(station=sta.mac)
    assert alert["kind"] == "update_not_taking"
    assert "downloaded demo 2.0.0 in full 2 times and still runs the sketch of MD5" in alert["message"]
    note = loose(await admin.station(sta.mac))["ota_note"]
    assert note.startswith("the update does not take")

    await admin.clear_alert(alert["id"])
    await takes_image(sta, http, admin)
    assert await downloads(admin, sta.mac) == 3


async def test_get_available_version_is_answered_as_the_esp8266_client_expects(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    mac = "5C:CF:7F:00:13:01"
    headers = esp8266_httpupdate_headers(
        sta_mac=mac, free_space=1_000_000, sketch_size=300_000, sketch_md5="0" * 32, mode="version"
    )
    async with http.get("/ota", headers=headers) as response:
        assert (response.status, await response.read()) == (304, b"")  # unknown: nothing to offer
    await admin.accept(mac)
    async with http.get("/ota", headers=headers) as response:
        assert response.status == 304  # accepted, nothing assigned
    image = await admin.import_image(build_image("esp8266"), "w.bin", version="4.1.0")
    await admin.assign(image["sha256"], station=mac)
    async with http.get("/ota", headers=headers) as response:
        assert response.status == 200
        assert response.headers["x-version"] == "4.1.0"
        assert await response.read() == b""
    assert await downloads(admin, mac) == 0  # asking what there is downloads nothing


async def test_a_slow_stock_poller_is_judged_by_its_own_pace(tmp_path: Path) -> None:
    now = [1_800_000_000.0]
    async with (
        StationmasterService(make_settings(tmp_path, poll_interval_s=60), clock=lambda: now[0]) as service,
        aiohttp.ClientSession(base_url=service.station_url) as http,
        AdminClient(service.settings.admin_socket) as admin,
    ):
        sta = stock_station("esp8266", 1)
        for _ in range(4):  # its author chose to poll every ten minutes
            await poll(sta, http)
            now[0] += 600
        await admin.accept(sta.mac)
        await poll(sta, http)
        assert (await admin.station(sta.mac))["seen_period_s"] == 600
        assert service.health_monitor is not None
        now[0] += 1000  # 16 missed check-ins at the appliance's own 60 s, under two of its polls
        assert await service.health_monitor.sweep() == 0
        now[0] += 1000
        assert await service.health_monitor.sweep() == 1
        [alert] = await admin.alerts(station=sta.mac)
        assert alert["kind"] == "offline"


async def test_the_station_list_shows_what_a_stock_station_is(
    service: StationmasterService, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    data = build_image("esp32c3", project="weather", version="1.5.0")
    await admin.import_image(data, "c3.bin")
    sta = stock_station("esp32c3", 2)
    sta.sketch = running_sketch_after("esp32c3", sta.mac, data, sta.sketch.free_space)
    await poll(sta, http)
    await admin.accept(sta.mac)
    await poll(sta, http)
    listed = await stationmaster(service.settings.admin_socket, "stations", "--json")
    assert listed.code == 0, listed.stderr
    [found] = json.loads(listed.stdout)["stations"]
    shown: dict[str, Any] = {k: found[k] for k in ("mac", "chip", "version", "state")}
    assert shown == {"mac": sta.mac, "chip": "esp32c3", "version": "1.5.0", "state": "online"}
    assert found["last_seen_at"] is not None
    assert found["ota_client"] == "HTTPUpdate (ESP32-http-Update)"


async def test_an_esp_https_ota_poll_is_a_sign_of_life_too(http: aiohttp.ClientSession, admin: AdminClient) -> None:
    mac = "7C:DF:A1:00:13:02"
    async with http.get(f"/ota/{mac}", headers=esp_https_ota_headers()) as response:
        assert response.status == 304
    found = await admin.station(mac)
    assert (found["status"], found["ota_client"]) == ("pending", "esp_https_ota (ESP32 HTTP Client/1.0)")
    assert found["last_seen_at"] is not None


async def test_a_station_that_proves_itself_at_check_in_is_not_vouched_for_by_polls(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    mac = "24:0A:C4:00:13:03"
    await accepted(http, admin, mac, version="1.0.0")
    seen = (await admin.station(mac))["last_seen_at"]
    # Anyone on the LAN can poll with its MAC: that says nothing of the station, which checks in with its token.
    headers = esp32_httpupdate_headers(sta_mac=mac, free_space=1, sketch_size=1, sketch_md5=None, version="6.6.6")
    async with http.get("/ota", headers=headers) as response:
        assert response.status == 304
    found = await admin.station(mac)
    assert (found["version"], found["last_seen_at"], found["ota_client"]) == ("1.0.0", seen, None)


def test_one_outage_or_burst_does_not_change_a_learned_pace() -> None:
    cadence = Cadence()
    pace = None
    for gap in (600, 610, 590):
        pace = cadence.seen("A", gap, pace)
    assert pace == 600
    assert cadence.seen("A", 9 * 3600, pace) == 600  # the Wi-Fi was down all night: one long gap
    assert cadence.seen("A", 0.3, pace) == 600  # esp_https_ota's next slice: one visit, not two
    for _ in range(3):  # its author now polls every minute: three gaps in a row say so
        pace = cadence.seen("A", 60, pace)
    assert pace == 60
    assert Cadence().seen("B", 601, 600) == 600  # after a restart the stored pace stands, within 20 %
