"""The transfer log says what a station has of an image: what its TCP stack took, not what the kernel was handed.

Images go out with sendfile and the kernel may queue a large part of one at once; the station here reads
part of the image and then reads no more (out of range, or its firmware hung), holding the connection open.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import socket
import struct
import termios
from pathlib import Path
from typing import Any

import aiohttp

from appliance.contract.client import AdminClient
from services.root.service import StationmasterService
from tests.conftest import make_settings
from tests.imagefactory import build_image
from tests.stationkit import event_stream, next_event
from tests.stock_clients import esp_https_ota_headers

MAC = "24:0A:C4:00:16:01"
IMAGE = build_image("esp32", project="truth", version="2.0.0", payload_size=2 * 1024 * 1024)


class ReadingStation:
    """esp_https_ota on a plain socket with a station-sized receive buffer: reads what it is told to."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.received = bytearray()

    def ask(self, headers: dict[str, str]) -> tuple[socket.socket, dict[str, str]]:
        """Send the request and read the response head; return the socket and the head's fields."""
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)  # before connecting: it sets the window
        sock.settimeout(10)
        sock.connect(("127.0.0.1", self.port))
        lines = [f"GET /ota/{MAC} HTTP/1.1", "Host: stationmaster", *(f"{k}: {v}" for k, v in headers.items())]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
        status_line, *rest = head.decode("latin-1").split("\r\n")
        fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in rest) if k}
        fields["status"] = status_line.split()[1]
        return sock, fields

    def read(self, sock: socket.socket, count: int) -> None:
        """Read exactly `count` more bytes of the body."""
        target = len(self.received) + count
        while len(self.received) < target:
            self.received += sock.recv(min(65536, target - len(self.received)))

    def drain_held(self, sock: socket.socket) -> int:
        """Read what the station's own kernel took but its firmware had not read yet; return how much."""
        held = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]
        self.read(sock, held)
        return int(held)


async def test_a_station_that_stops_reading_is_logged_at_what_it_took_and_resumes_exactly(tmp_path: Path) -> None:
    async with (
        StationmasterService(make_settings(tmp_path, request_timeout_s=1)) as service,
        AdminClient(service.settings.admin_socket) as admin,
    ):
        await _station_with_image(service, admin)
        station = ReadingStation(service.station_port)
        async with event_stream(admin) as events:
            sock, head = await asyncio.to_thread(station.ask, esp_https_ota_headers())
            assert head["status"] == "200"
            await asyncio.to_thread(station.read, sock, 700_000)  # then its firmware reads no more
            stopped = await next_event(events, "download_interrupted", within=15)
        held = await asyncio.to_thread(station.drain_held, sock)
        sock.close()
        # Everything the station's TCP stack acknowledged, no more: what it read, and what it held unread.
        assert stopped["data"]["bytes"] == len(station.received) == 700_000 + held
        assert stopped["data"]["bytes"] < len(IMAGE) - 2 * 128 * 1024, "the kernel had far more queued"

        async with event_stream(admin) as events:
            resumed, head = await asyncio.to_thread(
                station.ask, {**esp_https_ota_headers(), "Range": f"bytes={len(station.received)}-"}
            )
            assert (head["status"], head["content-range"]) == (
                "206",
                f"bytes {len(station.received)}-{len(IMAGE) - 1}/{len(IMAGE)}",
            )
            await asyncio.to_thread(station.read, resumed, len(IMAGE) - len(station.received))
            resumed.close()
            finished = await next_event(events, "download_finished")
    assert bytes(station.received) == IMAGE
    assert hashlib.md5(station.received).hexdigest() == head["x-md5"]
    assert finished["data"]["bytes"] == len(IMAGE) - stopped["data"]["bytes"]


async def _station_with_image(service: StationmasterService, admin: AdminClient) -> None:
    async with aiohttp.ClientSession(service.station_url) as http:
        body: dict[str, Any] = {"mac": MAC, "chip": "esp32", "version": "1.0.0"}
        async with http.post("/api/v1/checkin", json=body) as response:
            assert response.status == 200
    await admin.accept(MAC)
    await admin.assign((await admin.import_image(IMAGE, "truth.bin"))["sha256"], station=MAC)
