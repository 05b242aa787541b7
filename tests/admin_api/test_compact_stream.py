"""The compact event stream: what a client across a slow link reads, and how it picks up after a break."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from appliance.contract.client import AdminClient, AdminError
from appliance.contract.stream import CompactStream
from services.adapters.admin_api import resume
from services.root.service import StationmasterService

A, B = "24:0A:C4:00:00:01", "24:0A:C4:00:00:02"
Message = dict[str, Any]


async def check_in(http: aiohttp.ClientSession, mac: str, **fields: Any) -> None:
    """One check-in as a station sends it."""
    body = {"mac": mac, "chip": "esp32", "version": "1.0.0", "rssi": -60, "uptime_s": 100, **fields}
    async with http.post("/api/v1/checkin", json=body) as answer:
        assert answer.status == 200


class Reader:
    """Reads a stream in the background into `messages`; `until` waits for what a person would wait to see."""

    def __init__(self, stream: AsyncIterator[Message]) -> None:
        self.messages: list[Message] = []
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._read(stream))

    async def _read(self, stream: AsyncIterator[Message]) -> None:
        async for message in stream:
            self.messages.append(message)
            self._changed.set()

    async def until(self, condition: Callable[[list[Message]], bool], within: float = 10.0) -> None:
        async def wait() -> None:
            while not condition(self.messages):
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), within)

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


class Opened:
    """An `on_connect` that notes every connection (resumed or not) and can be awaited."""

    def __init__(self) -> None:
        self.resumed: list[bool] = []
        self._changed = asyncio.Event()

    def __call__(self, resumed: bool = False) -> None:
        self.resumed.append(resumed)
        self._changed.set()

    async def count(self, connections: int, within: float = 10.0) -> None:
        async def wait() -> None:
            while len(self.resumed) < connections:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), within)


def kinds(messages: list[Message]) -> list[tuple[str, str | None]]:
    return [(m["kind"], m.get("mac")) for m in messages if m["kind"] != "ota_held"]


async def test_the_compact_stream_carries_what_the_plain_one_does(
    service: StationmasterService, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    opened = Opened()
    plain = Reader(admin.stream_events(on_connect=opened))
    compact = Reader(admin.follow(CompactStream(batch_ms=200), on_connect=opened))
    await opened.count(2)
    for rssi in (-60, -61, -58):
        await check_in(http, A, rssi=rssi)
    await check_in(http, B, uptime_s=5)
    await admin.accept(A)
    for reader in (plain, compact):
        await reader.until(lambda seen: any(m["kind"] == "station_accepted" for m in seen))
    await plain.stop()
    await compact.stop()
    assert kinds(compact.messages) == kinds(plain.messages)
    for ours, theirs in zip(compact.messages, plain.messages, strict=True):
        # The compact stream rounds times to the millisecond; everything else is the same.
        assert {**ours, "at": round(ours["at"], 3)} == {**theirs, "at": round(theirs["at"], 3)}


async def test_a_check_in_crosses_the_link_as_what_changed(
    service: StationmasterService, http: aiohttp.ClientSession
) -> None:
    connector = aiohttp.UnixConnector(path=str(service.settings.admin_socket))
    async with aiohttp.ClientSession("http://stationmaster", connector=connector) as session:
        params = {"compact": "1", "batch_ms": "0"}
        async with session.get("/v1/events/stream", params=params, headers={"Accept-Encoding": "identity"}) as answer:
            assert answer.headers["X-Stream-Resumed"] == "0"
            assert answer.headers["X-Stationmaster-API"] == "1.1"
            await check_in(http, A, rssi=-60, uptime_s=100)
            await check_in(http, A, rssi=-63, uptime_s=160)
            wire = b""
            while wire.count(b'"kind":"checkin"') < 2:
                wire += await answer.content.readany()
    second = wire.rsplit(b'{"kind":"checkin"', 1)[1]
    assert b'"rssi":-63' in second
    assert b'"uptime_s":160' in second
    for unchanged in (b'"chip"', b'"version"', b'"status"', b'"message"'):
        assert unchanged not in second, "an unchanged field went over the link again"


async def test_a_client_that_reconnects_gets_what_it_missed_and_nothing_more(
    service: StationmasterService, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    await check_in(http, A)
    await check_in(http, B)
    stream = CompactStream(batch_ms=0)
    opened = Opened()
    first = Reader(admin.follow(stream, on_connect=opened))
    await opened.count(1)
    await check_in(http, A, rssi=-50)
    await first.until(lambda seen: any(m["kind"] == "checkin" and m["rssi"] == -50 for m in seen))
    await first.stop()
    # While it is away: the admin accepts a station (a stored event), and one station checks in anew.
    await admin.accept(A)
    await check_in(http, B, rssi=-42)
    again = Reader(admin.follow(stream, on_connect=opened))
    await again.until(lambda seen: any(m["kind"] == "station_accepted" for m in seen))
    await again.until(lambda seen: any(m["kind"] == "checkin" and m["rssi"] == -42 for m in seen))
    await again.stop()
    assert opened.resumed == [False, True]
    accepted = [m for m in again.messages if m["kind"] == "station_accepted"]
    assert [m["mac"] for m in accepted] == [A]
    missed = next(m for m in again.messages if m["kind"] == "checkin" and m["mac"] == B)
    assert missed["status"] == "pending"
    assert missed["chip"] == "esp32"
    assert missed["id"] is None
    # What the first connection already carried is not sent again.
    assert not [m for m in again.messages if m["kind"] == "station_discovered"]


async def test_a_cursor_it_cannot_honour_means_starting_afresh(
    service: StationmasterService, http: aiohttp.ClientSession, admin: AdminClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = Opened()
    foreign = CompactStream(batch_ms=0)
    foreign.cursor = "999999:0"  # another registry's (a backup restored since, another appliance)
    reader = Reader(admin.follow(foreign, on_connect=opened))
    await opened.count(1)
    await reader.stop()

    monkeypatch.setattr(resume, "REPLAY_LIMIT", 2)
    behind = CompactStream(batch_ms=0)
    reader = Reader(admin.follow(behind, on_connect=opened))
    await opened.count(2)
    await check_in(http, A)
    await reader.until(lambda seen: any(m["kind"] == "checkin" for m in seen))
    await reader.stop()
    for mac in (B, "24:0A:C4:00:00:03", "24:0A:C4:00:00:04"):
        await check_in(http, mac)  # a discovery each: three stored events, more than the replay takes
    reader = Reader(admin.follow(behind, on_connect=opened))
    await opened.count(3)
    await reader.stop()
    assert opened.resumed == [False, False, False], "a client that missed too much is told to fetch its views again"


async def test_the_stream_is_deflated_for_a_client_that_asks_and_each_batch_arrives_whole(
    service: StationmasterService, http: aiohttp.ClientSession
) -> None:
    connector = aiohttp.UnixConnector(path=str(service.settings.admin_socket))
    inflate = zlib.decompressobj()
    async with aiohttp.ClientSession("http://stationmaster", connector=connector, auto_decompress=False) as session:
        headers = {"Accept-Encoding": "gzip, deflate"}
        params = {"compact": "1", "batch_ms": "0"}
        async with session.get("/v1/events/stream", params=params, headers=headers) as answer:
            assert answer.headers["Content-Encoding"] == "deflate"
            text = inflate.decompress(await answer.content.readany()).decode()
            # The first batch is readable on its own.
            assert text.startswith("id: ")
            assert text.endswith("\n\n")
            await check_in(http, A)
            text = ""
            while '"kind":"checkin"' not in text:
                text += inflate.decompress(await answer.content.readany()).decode()
            # Nothing held back in the compressor: the check-in's batch is complete as it arrives.
            assert text.endswith("\n\n")


async def test_json_answers_are_compressed_only_for_a_client_that_asks(
    service: StationmasterService, http: aiohttp.ClientSession
) -> None:
    for number in range(20):
        await check_in(http, f"24:0A:C4:00:01:{number:02X}")
    connector = aiohttp.UnixConnector(path=str(service.settings.admin_socket))
    async with aiohttp.ClientSession("http://stationmaster", connector=connector, auto_decompress=False) as session:
        async with session.get("/v1/stations", headers={"Accept-Encoding": "gzip"}) as answer:
            assert answer.headers.get("Content-Encoding") == "gzip"
            assert len(zlib.decompress(await answer.read(), wbits=31)) > 2 * int(answer.headers["Content-Length"])
        async with session.get("/v1/stations", headers={"Accept-Encoding": "identity"}) as answer:
            assert "Content-Encoding" not in answer.headers
    # Across a forwarded socket the client asks; on the Pi it does not, and both read the same list.
    async with (
        AdminClient(service.settings.admin_socket, afar="site") as afar,
        AdminClient(service.settings.admin_socket) as near,
    ):
        assert await afar.stations() == await near.stations()


async def test_a_request_the_appliance_does_not_know_says_it_may_be_older(admin: AdminClient) -> None:
    with pytest.raises(AdminError) as raised:
        await admin._call("GET", "/v1/what-a-newer-version-added")
    assert raised.value.code == "not_on_appliance"
    assert "older Stationmaster" in raised.value.message
    with pytest.raises(AdminError) as raised:
        await admin.station("24:0A:C4:FF:FF:FF")  # the service's own 404 is told as it is
    assert raised.value.code == "not_found"
