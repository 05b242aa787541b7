"""Garbage sent to the station port is answered 400 without writing a traceback per request to the journal."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from tests.conftest import ServeProcess

GARBAGE = [
    b"NOT HTTP AT ALL\r\n\r\n",
    b"GET /ota HTTP/1.1\r\nBad Header\r\n\r\n",
    b"POST /api/v1/checkin HTTP/1.1\r\nHost: x\r\nContent-Encoding: br\r\nContent-Length: 2\r\n\r\n{}",
    b"GET /ota HTTP/1.1\r\nHost: x\r\nX-Long: " + b"v" * 20_000 + b"\r\n\r\n",
]


def _send(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        return sock.recv(64)


async def test_a_flood_of_malformed_requests_leaves_the_log_quiet(tmp_path: Path) -> None:
    serve = ServeProcess(tmp_path)
    await asyncio.to_thread(serve.start)
    try:
        before = await asyncio.to_thread(serve.log_path.read_text)
        for _ in range(25):
            for raw in GARBAGE:
                assert (await asyncio.to_thread(_send, serve.port, raw)).split()[1].startswith(b"4")
    finally:
        assert serve.stop() == 0
    written = (await asyncio.to_thread(serve.log_path.read_text))[len(before) :]
    assert "Traceback" not in written
    assert len(written.splitlines()) <= 2, written[:2000]  # "stopping", and nothing per request
