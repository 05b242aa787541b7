"""Slow clients (slowloris: headers or bodies trickling in, downloads never read) cannot starve the others."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from appliance.contract.client import AdminClient
from services.root.service import StationmasterService
from tests.conftest import ServeProcess, make_settings
from tests.imagefactory import build_image
from tests.stock_clients import esp32_httpupdate_headers

SLOW_CLIENTS = 300
STEADY_MAC = "24:0A:C4:00:00:99"


async def _open_slow(port: int, *, in_body: bool) -> asyncio.StreamWriter:
    """A connection that sends part of a request and then goes quiet."""
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    if in_body:
        writer.write(b'POST /api/v1/checkin HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{"mac": ')
    else:
        writer.write(b"POST /api/v1/checkin HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    await writer.drain()
    return writer


async def test_hundreds_of_stalled_requests_do_not_block_a_check_in(
    service: StationmasterService, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    stalled = [await _open_slow(service.station_port, in_body=index % 2 == 0) for index in range(SLOW_CLIENTS)]
    try:
        # While every stalled request is still open, a station that behaves is served, and so is the admin.
        async with http.post("/api/v1/checkin", json={"mac": STEADY_MAC, "rssi": -50}) as response:
            assert response.status == 200
        async with http.get("/ota", headers={"x-ESP8266-STA-MAC": "24:0A:C4:00:00:98"}) as response:
            assert response.status == 304
        assert (await admin.status())["counts"]
        for writer in stalled[:50]:  # a trickle of bytes keeps them alive, and still nobody waits on them
            writer.write(b"a")
        async with http.post("/api/v1/checkin", json={"mac": STEADY_MAC, "rssi": -51}) as response:
            assert response.status == 200
    finally:
        for writer in stalled:
            writer.close()
    assert service.registry is not None
    # The registry's view: a check-in that only updates the signal is held in memory a minute before it is written.
    station = await service.registry.stations.get(STEADY_MAC)
    assert station is not None
    assert station.rssi == -51


@pytest.fixture
async def impatient(tmp_path: Path) -> AsyncIterator[StationmasterService]:
    """A service that gives a stalled request up after 1 s (30 s by default)."""
    async with StationmasterService(make_settings(tmp_path, request_timeout_s=1)) as running:
        yield running


async def _hung_up_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    """True if the service closes the connection within `seconds` (whatever it says first)."""
    try:
        async with asyncio.timeout(seconds):
            while await reader.read(4096):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


async def test_a_request_that_trickles_in_is_hung_up_on(impatient: StationmasterService) -> None:
    port = impatient.station_port
    started = time.monotonic()
    connections = []
    for in_body in (False, True, None):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        if in_body is not None:
            writer.write(b"POST /api/v1/checkin HTTP/1.1\r\nHost: x\r\n")
            writer.write(b'Content-Length: 900\r\n\r\n{"mac": ' if in_body else b"X-Slow: a")
        connections.append((reader, writer))
    try:

        async def trickle() -> None:  # a byte every 0.3 s: each arrives well within any idle timeout
            for _ in range(20):
                for _, writer in connections[:2]:
                    with contextlib.suppress(ConnectionError):
                        writer.write(b"a")
                await asyncio.sleep(0.3)

        trickling = asyncio.create_task(trickle())
        # Headers still coming, a body still coming, and nothing at all: each is cut off after about 1 s.
        closed = await asyncio.gather(*(_hung_up_within(reader, 6) for reader, _ in connections))
        trickling.cancel()
    finally:
        for _, writer in connections:
            writer.close()
    assert closed == [True, True, True]
    assert time.monotonic() - started < 6


async def test_a_download_nobody_reads_is_given_up_and_others_are_served(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, request_timeout_s=1)
    async with StationmasterService(settings) as service, AdminClient(settings.admin_socket) as admin:
        macs = ["24:0A:C4:00:40:01", "24:0A:C4:00:40:02"]
        async with aiohttp.ClientSession(service.station_url) as http:
            for mac in macs:
                async with http.post("/api/v1/checkin", json={"mac": mac, "chip": "esp32"}) as response:
                    assert response.status == 200
                await admin.accept(mac)
                await admin.tag(mac, add=["all"])
            image = build_image("esp32", project="big", version="2.0.0", payload_size=4 * 1024 * 1024)
            await admin.assign((await admin.import_image(image, "big.bin"))["sha256"], tag="all")
            connected = asyncio.Event()
            interrupted = asyncio.create_task(_first_event(admin, "download_interrupted", macs[0], connected.set))
            await asyncio.wait_for(connected.wait(), 5)

            # A station asks for the image and then never reads another byte: its TCP window stays shut.
            stuck = socket.socket()
            stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stuck.setblocking(False)
            await asyncio.get_running_loop().sock_connect(stuck, ("127.0.0.1", service.station_port))
            reader, writer = await asyncio.open_connection(sock=stuck, limit=4096)
            lines = ["GET /ota HTTP/1.1", "Host: x", *(f"{k}: {v}" for k, v in _ota_headers(macs[0]).items())]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
            try:
                assert (await reader.read(64)).startswith(b"HTTP/1.1 200")
                async with http.get("/ota", headers=_ota_headers(macs[1])) as response:
                    assert await response.read() == image, "the other station got the whole image meanwhile"
                event = await asyncio.wait_for(interrupted, 10)
            finally:
                writer.close()
    assert event["data"]["bytes"] < len(image)


def _ota_headers(mac: str) -> dict[str, str]:
    return esp32_httpupdate_headers(sta_mac=mac, free_space=8 << 20, sketch_size=1 << 20, sketch_md5="0" * 32)


async def _first_event(admin: AdminClient, kind: str, mac: str, on_connect: Callable[[], None]) -> dict[str, Any]:
    """The first event of `kind` for `mac` on the live stream."""
    async for message in admin.stream_events(on_connect=on_connect):
        if message["kind"] == kind and message["mac"] == mac:
            return message
    raise AssertionError("the stream ended")


@pytest.mark.slow
async def test_more_stalled_clients_than_file_descriptors_do_not_keep_a_station_out(tmp_path: Path) -> None:
    # The service may hold 200 files at once; 400 stalled clients more than use them all. Without a deadline
    # on requests, none would ever be freed and the station below would wait for ever.
    serve = ServeProcess(tmp_path, env={"STATIONMASTER_REQUEST_TIMEOUT_S": "2"}, open_files=(200, 200))
    await asyncio.to_thread(serve.start)
    writers: list[asyncio.StreamWriter] = []

    async def stall() -> None:
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(3):
                _, writer = await asyncio.open_connection("127.0.0.1", serve.port)
                writer.write(b"POST /api/v1/checkin HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                writers.append(writer)

    try:
        await asyncio.gather(*(stall() for _ in range(400)))
        started = time.monotonic()
        async with (
            aiohttp.ClientSession(serve.url, timeout=aiohttp.ClientTimeout(total=20)) as http,
            http.post("/api/v1/checkin", json={"mac": STEADY_MAC, "rssi": -40}) as response,
        ):
            assert response.status == 200
        waited = time.monotonic() - started
    finally:
        for writer in writers:
            writer.close()
        assert serve.stop() == 0
    assert waited < 15
    log = await asyncio.to_thread(serve.log_path.read_text)
    assert "every file descriptor is in use" in log, "the limit was reached"
    assert log.count("Too many open files") <= 2, "and said so once, not once per refused connection"


async def test_serve_raises_its_open_file_limit_to_the_hard_limit(tmp_path: Path) -> None:
    serve = ServeProcess(tmp_path, open_files=(256, 4096))
    await asyncio.to_thread(serve.start)
    try:
        limits = await asyncio.to_thread(Path(f"/proc/{serve.pid}/limits").read_text)
    finally:
        assert serve.stop() == 0
    (line,) = [line for line in limits.splitlines() if line.startswith("Max open files")]
    assert line.split()[3:5] == ["4096", "4096"]
