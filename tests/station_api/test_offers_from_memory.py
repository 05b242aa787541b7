"""What `/ota` decides is read from memory kept in front of the registry, and read together under a burst.

A fleet update is fifty stations polling within moments of each other. Each used to cost its own reads (its
assignment, the library, its count of full downloads): fifty stations, 152 round trips queued at the one
reader before the last byte went out. The tests count the registry's reads during such a burst, and
change assignments and tags behind the polls' backs to show the memory never offers what is no longer so.
"""

from __future__ import annotations

import asyncio

import aiohttp

from appliance.contract.client import AdminClient
from services.root.service import StationmasterService
from tests.imagefactory import build_image
from tests.stationkit import event_stream, next_event
from tests.stock_clients import esp32_httpupdate_headers

FLEET = 50


def mac(index: int) -> str:
    return f"24:0A:C4:0E:00:{index:02X}"


async def poll(http: aiohttp.ClientSession, station: str) -> tuple[int, bytes]:
    """One poll of the station's stock ESP32 client: the status and the body (the image, if offered)."""
    headers = esp32_httpupdate_headers(sta_mac=station, free_space=1 << 21, sketch_size=300_000, sketch_md5="0" * 32)
    async with http.get("/ota", headers=headers) as answer:
        return answer.status, await answer.read()


async def enrolled(http: aiohttp.ClientSession, admin: AdminClient, stations: list[str], tag: str) -> None:
    """Stations seen, accepted, tagged and told to be ESP32s, each having polled once since (nothing offered)."""
    for station in stations:
        assert (await poll(http, station))[0] == 304
        await admin.accept(station)
        await admin.tag(station, add=[tag])
        await admin.set_chip(station, "esp32")
        assert (await poll(http, station))[0] == 304


async def test_fifty_stations_offered_an_update_at_once_cost_a_few_reads_not_fifty_each(
    service: StationmasterService, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    stations = [mac(i) for i in range(FLEET)]
    await enrolled(http, admin, stations, "field")
    image = build_image("esp32", project="field", version="2.0.0", payload_size=64 * 1024)
    await admin.assign((await admin.import_image(image, "field.bin"))["sha256"], tag="field")
    assert service.registry is not None
    before = service.registry.db.queries
    async with event_stream(admin) as events:
        answers = await asyncio.gather(*(poll(http, station) for station in stations))
        reads = service.registry.db.queries - before
        finished = [await next_event(events, "download_finished") for _ in stations]
    assert all(answer == (200, image) for answer in answers), "every station got the image, whole"
    # Their start records were written together (services.store.grouped): each download is still its own.
    assert sorted(event["mac"] for event in finished) == sorted(stations)
    assert {event["data"]["bytes"] for event in finished} == {len(image)}
    rows = await service.registry.db.fetch_all("SELECT mac, bytes_sent, complete FROM transfers")
    assert sorted((row["mac"], row["bytes_sent"], row["complete"]) for row in rows) == [
        (station, len(image), 1) for station in sorted(stations)
    ]
    # The views, the assignments, the library and the download counts, each read for whoever waits at that
    # moment (5 to 7 reads here, as the polls arrive), and the service's housekeeping if it falls in the
    # window; 152 when each poll read its own assignment, library and count.
    assert reads <= FLEET // 2, f"{reads} reads for {FLEET} downloads at once"


async def test_what_the_admin_changes_is_offered_at_the_next_poll(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    first, second = mac(0xA0), mac(0xA1)
    await enrolled(http, admin, [first, second], "garden")
    garden = build_image("esp32", project="garden", version="1.0.0", payload_size=16 * 1024)
    pump = build_image("esp32", project="pump", version="1.0.0", payload_size=16 * 1024)
    garden_sha = (await admin.import_image(garden, "garden.bin"))["sha256"]
    pump_sha = (await admin.import_image(pump, "pump.bin"))["sha256"]
    by_tag = await admin.assign(garden_sha, tag="garden")
    assert await poll(http, first) == (200, garden)

    await admin.assign(pump_sha, station=first)  # its own assignment wins over its tag's
    assert await poll(http, first) == (200, pump)
    assert await poll(http, second) == (200, garden)

    await admin.tag(second, remove=["garden"])  # no tag, no image
    assert (await poll(http, second))[0] == 304
    await admin.tag(second, add=["garden"])
    assert await poll(http, second) == (200, garden)

    await admin.unassign(by_tag["id"])
    assert (await poll(http, second))[0] == 304, "the tag's assignment is gone"
    assert await poll(http, first) == (200, pump), "the station's own is not"


async def test_an_assignment_for_others_leaves_a_station_s_view_in_memory(
    service: StationmasterService, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    station = mac(0xB0)
    await enrolled(http, admin, [station], "orchard")
    assert service.registry is not None
    before = service.registry.db.queries
    assert (await poll(http, station))[0] == 304
    assert service.registry.db.queries == before, "a poll that repeats itself reads nothing"

    other = build_image("esp32", project="barn", version="1.0.0", payload_size=16 * 1024)
    await admin.assign((await admin.import_image(other, "barn.bin"))["sha256"], tag="barn")
    before = service.registry.db.queries
    assert (await poll(http, station))[0] == 304
    # What every station is given changed, not this station's rows: its view stays in memory.
    # The assignments and the library (an image came in), each read once for every station; 3 when every
    # view was read again after it.
    assert service.registry.db.queries - before == 2
