"""Garbage sent to the station port, or a request cut off midway, never writes a line per request to the journal."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from tests.conftest import ServeProcess
from tests.hostile.sitestate import capture

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


def _hang_up(port: int, path: str) -> None:
    """Send a request's head and part of its body, then close the connection, as a station losing its link does."""
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode() + b'{"mac": "24:0A:C4:00:0')


async def test_clients_hanging_up_mid_body_are_one_debug_line_at_most(tmp_path: Path) -> None:
    serve = ServeProcess(tmp_path, env={"STATIONMASTER_LOG_LEVEL": "debug"})
    await asyncio.to_thread(serve.start)
    try:
        before = await asyncio.to_thread(serve.log_path.read_text)
        state = capture(serve.data_dir)
        for _ in range(67):
            for path in ("/api/v1/checkin", "/api/v1/events", "/api/v1/enrol"):
                await asyncio.to_thread(_hang_up, serve.port, path)
        # A request that completes after them is answered: each hang-up was handled (and logged, or not) first.
        assert await asyncio.to_thread(_send, serve.port, GARBAGE[0]) != b""
        assert capture(serve.data_dir) == state
    finally:
        assert serve.stop() == 0
    written = (await asyncio.to_thread(serve.log_path.read_text))[len(before) :]
    assert "Traceback" not in written, written[:2000]
    assert "ERROR" not in written, written[:2000]
    told = [line for line in written.splitlines() if "hung up" in line]
    assert len(told) <= 1, told
    assert all(" DEBUG " in line for line in told)
