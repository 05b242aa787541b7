"""The admin door: station actions, the firmware library, assignments and the live event stream."""

from __future__ import annotations

import asyncio
import os
import stat

import aiohttp
import pytest

from appliance.contract.client import AdminClient, AdminError
from services.root.service import StationmasterService
from tests.imagefactory import build_image

MAC = "24:0A:C4:00:00:07"


async def _seen(http: aiohttp.ClientSession, mac: str = MAC) -> None:
    async with http.post("/api/v1/checkin", json={"mac": mac, "chip": "esp32", "version": "1.0.0"}) as response:
        assert response.status == 200


async def test_the_socket_is_for_the_admin_group_only(service: StationmasterService) -> None:
    mode = stat.S_IMODE(os.stat(service.settings.admin_socket).st_mode)
    assert mode == 0o660


async def test_rename_and_tag_round_trip(http: aiohttp.ClientSession, admin: AdminClient) -> None:
    await _seen(http)
    station = await admin.rename(MAC, "STA2")
    assert station["name"] == "STA2"
    station = await admin.tag(MAC, add=["garden", "Solar"])
    assert station["tags"] == ["garden", "solar"]
    station = await admin.tag(MAC, remove=["garden"])
    assert station["tags"] == ["solar"]
    assert [s["name"] for s in await admin.stations()] == ["STA2"]


async def test_mistakes_get_clear_errors(http: aiohttp.ClientSession, admin: AdminClient) -> None:
    await _seen(http)
    await _seen(http, "24:0A:C4:00:00:08")
    await admin.rename("24:0A:C4:00:00:08", "STA3")
    cases = [
        (admin.rename(MAC, "STA3"), "conflict", "already used"),
        (admin.rename(MAC, ""), "bad_request", "a name is"),
        (admin.accept("24:0A:C4:99:99:99"), "not_found", "no station"),
        (admin.tag(MAC, add=["no spaces please"]), "bad_request", "is not a tag"),
        (admin.assign("abcdef", station=MAC), "not_found", "no image"),
        (admin.assign("xyz", station=MAC), "bad_request", "not a SHA-256 prefix"),
        (admin.image("00"), "bad_request", "at least 6 hex digits"),
    ]
    for call, code, words in cases:
        with pytest.raises(AdminError) as caught:
            await call
        assert caught.value.code == code
        assert words in caught.value.message


async def test_a_bad_file_is_refused_with_its_reason_and_nothing_is_kept(
    admin: AdminClient, service: StationmasterService
) -> None:
    with pytest.raises(AdminError) as caught:
        await admin.import_image(b'{"not": "firmware"}', "notes.json")
    assert caught.value.code == "invalid_image"
    assert "notes.json" in caught.value.message
    assert await admin.images() == []
    store = service.settings.data_dir / "firmware"
    assert not [p for p in store.rglob("*") if p.is_file()]


async def test_import_is_idempotent_and_delete_waits_for_unassign(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    data = build_image("esp32", project="weather", version="1.4.0")
    first = await admin.import_image(data, "weather.bin")
    again = await admin.import_image(data, "weather-copy.bin")
    assert first["sha256"] == again["sha256"]
    assert (first["chip"], first["project"], first["version"]) == ("esp32", "weather", "1.4.0")
    assert len(await admin.images()) == 1
    await _seen(http)
    assignment = await admin.assign(first["sha256"][:8], station=MAC)
    station = await admin.station(MAC)
    assert (station["assigned_image"], station["assigned_version"]) == (first["sha256"], "1.4.0")
    with pytest.raises(AdminError) as caught:
        await admin.delete_image(first["sha256"][:8])
    assert caught.value.code == "conflict"
    await admin.unassign(assignment["id"])
    await admin.delete_image(first["sha256"][:8])
    assert await admin.images() == []


async def test_the_event_stream_shows_a_check_in_within_a_second(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    received: list[dict[str, object]] = []
    connected = asyncio.Event()

    async def listen() -> None:
        async for message in admin.stream_events(on_connect=connected.set):
            received.append(message)
            if message["kind"] == "station_discovered":
                return

    listener = asyncio.create_task(listen())
    await asyncio.wait_for(connected.wait(), 5)
    await _seen(http)
    await asyncio.wait_for(listener, 1.0)
    assert [m["kind"] for m in received][-1] == "station_discovered"
    assert received[-1]["mac"] == MAC
