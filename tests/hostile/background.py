"""The real service on its own event loop in a thread, so hypothesis can drive it with plain sockets."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import threading
from pathlib import Path

from services.service import REGISTRY_FILE, StationmasterService
from tests.conftest import make_settings

# What the admin owns: a refused request must leave every one of these tables as it was.
ADMIN_TABLES = (
    "stations",
    "station_tags",
    "images",
    "assignments",
    "site_wifi",
    "provisions",
    "station_config",
    "commands",
    "rollouts",
    "rollout_stations",
)


class BackgroundService:
    """A started service with raw-request helpers for its station port and its admin socket."""

    def __init__(self, tmp_path: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.service = StationmasterService(make_settings(tmp_path))
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.service.start(), self.loop).result(30)
        self.port = self.service.station_port
        self.admin_socket = self.service.settings.admin_socket
        self.db_path = self.service.settings.data_dir / REGISTRY_FILE

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.service.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def send(self, raw: bytes) -> int:
        """Send raw bytes as one request to the station port; return the answer's status code."""
        return _exchange(socket.create_connection(("127.0.0.1", self.port), timeout=10), raw)

    def send_admin(self, raw: bytes) -> int:
        """Send raw bytes as one request to the admin socket; return the answer's status code."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(10)
        sock.connect(str(self.admin_socket))
        return _exchange(sock, raw)

    def snapshot(self, tables: tuple[str, ...] = ("stations",)) -> dict[str, list[tuple[object, ...]]]:
        """Every row of `tables`: what a refused request must leave untouched."""
        conn = sqlite3.connect(self.db_path, timeout=10)
        try:
            return {table: conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall() for table in tables}
        finally:
            conn.close()


def _exchange(sock: socket.socket, raw: bytes) -> int:
    with sock:
        sock.sendall(raw)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line = answer.split(b"\r\n", 1)[0].split()
    assert len(status_line) >= 2, f"no HTTP answer to {raw[:200]!r}: {answer[:200]!r}"
    return int(status_line[1])


def request(method: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """A raw HTTP/1.1 request."""
    lines = [f"{method} {path} HTTP/1.1", "Host: stationmaster", "Connection: close", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
