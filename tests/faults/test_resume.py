"""A download broken off (the station's link drops, or the service dies) resumes with Range and ends whole."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from appliance.contract.client import AdminClient
from tests.conftest import ServeProcess
from tests.imagefactory import build_image
from tests.stock_clients import esp_https_ota_headers

MAC = "24:0A:C4:00:70:01"
IMAGE = build_image("esp32", project="resume", version="2.0.0", payload_size=3 * 1024 * 1024)


class RawStation:
    """esp_https_ota on a plain socket: GET /ota/<MAC>, read what arrives, resume with Range and If-Range."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.received = bytearray()
        self.md5 = ""
        self.etag = ""

    def start(self, *, keep: int) -> socket.socket:
        """Ask for the rest of the image, read about `keep` bytes of it, and return the still-open socket."""
        sock = socket.socket()
        # A station's window is small: set before connecting, so that what is in flight when it drops is too.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.settimeout(10)
        sock.connect(("127.0.0.1", self.port))
        headers = dict(esp_https_ota_headers())
        if self.received:
            headers |= {"Range": f"bytes={len(self.received)}-", "If-Range": self.etag}
        lines = [f"GET /ota/{MAC} HTTP/1.1", "Host: stationmaster", *(f"{k}: {v}" for k, v in headers.items())]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
        status, fields = _parse_head(head)
        assert status == (206 if self.received else 200), head
        self.md5, self.etag = fields["x-md5"], fields["etag"]
        if self.received:
            assert fields["content-range"] == f"bytes {len(self.received)}-{len(IMAGE) - 1}/{len(IMAGE)}"
        target = len(self.received) + keep
        while len(self.received) < target and (chunk := sock.recv(min(16384, target - len(self.received)))):
            self.received += chunk
        return sock

    def read_to_end(self, sock: socket.socket) -> None:
        """Take whatever else arrives until the image is whole or the connection ends, however it ends."""
        try:
            while len(self.received) < len(IMAGE) and (chunk := sock.recv(65536)):
                self.received += chunk
        except ConnectionResetError:
            pass
        sock.close()


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    status_line, *lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in lines:
        if ":" in line:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), fields


def _reset(sock: socket.socket) -> None:
    """Drop the link as a station losing its Wi-Fi does: an RST, not a polite close."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[ServeProcess]:
    """`serve` with the station accepted and the big image assigned to it."""
    process = ServeProcess(tmp_path)
    await asyncio.to_thread(process.start)
    async with AdminClient(process.socket) as admin:
        async with (
            aiohttp.ClientSession(process.url) as http,
            http.post("/api/v1/checkin", json={"mac": MAC, "chip": "esp32", "version": "1.0.0"}) as response,
        ):
            assert response.status == 200  # the station checks in first: it appears, pending, and says its chip
        await admin.accept(MAC)
        await admin.assign((await admin.import_image(IMAGE, "resume.bin"))["sha256"], station=MAC)
    yield process
    if process.proc is not None and process.proc.poll() is None:
        assert process.stop() == 0


async def test_a_station_that_drops_mid_download_resumes_with_range(serve: ServeProcess) -> None:
    station = RawStation(serve.port)
    for keep in (400_000, 900_000):  # two drops, then the rest
        _reset(await asyncio.to_thread(station.start, keep=keep))
    await asyncio.to_thread(station.read_to_end, await asyncio.to_thread(station.start, keep=0))
    assert bytes(station.received) == IMAGE
    assert hashlib.md5(station.received).hexdigest() == station.md5, "x-MD5 checks the reassembled image"
    async with AdminClient(serve.socket) as admin:
        for _ in range(100):  # the last record is written once the bytes are sent: another process, so poll
            kinds = [e["kind"] for e in reversed(await admin.events(mac=MAC)) if e["kind"].startswith("download_")]
            if len(kinds) == 3:
                break
            await asyncio.sleep(0.1)
    assert kinds == ["download_interrupted", "download_interrupted", "download_finished"]


async def test_a_download_cut_by_a_power_cut_resumes_from_the_restarted_service(serve: ServeProcess) -> None:
    station = RawStation(serve.port)
    sock = await asyncio.to_thread(station.start, keep=500_000)
    await asyncio.to_thread(serve.kill)  # mid-download, with bytes still in flight
    await asyncio.to_thread(station.read_to_end, sock)
    assert 500_000 <= len(station.received) < len(IMAGE)
    await asyncio.to_thread(serve.start)
    await asyncio.to_thread(station.read_to_end, await asyncio.to_thread(station.start, keep=0))
    assert bytes(station.received) == IMAGE
    assert hashlib.md5(station.received).hexdigest() == station.md5
