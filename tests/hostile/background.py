"""The real service on its own event loop in a thread, so hypothesis can drive it with plain sockets."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from services.root.service import REGISTRY_FILE, StationmasterService
from tests.conftest import make_settings

# What a refused request must leave as it was: every table (a migration's new ones too) but `transfers`:
# it, and download events, are written when a download ends, which may be after the client has its answer.
# Events are compared apart, less the kinds below.
_TRAFFIC_TABLES = ("transfers", "events", "sqlite_sequence")
# A refusal may tell the admin why (a station's `ota_note` and an `ota_held` event; the alert that another device
# claims a station): that is its purpose.
_EVENTS_A_REFUSAL_MAY_WRITE = (
    "ota_held",
    "download_finished",
    "download_part",
    "download_interrupted",
    "alert_station_claimed_twice",
)
_ALERTS_A_REFUSAL_MAY_RAISE = "kind NOT IN ('station_claimed_twice')"
_COLUMNS_A_REFUSAL_MAY_WRITE = {"stations": ("ota_note",)}
# Bytes a request can end with, for answers whose body never ends (the admin event stream).
_ENDLESS = (b"text/event-stream",)


@dataclass(frozen=True, slots=True)
class Answer:
    """What came back for one raw request."""

    status: int
    headers: dict[str, str]
    body: bytes


class BackgroundService:
    """A started service with raw-request helpers for its station port and its admin socket."""

    def __init__(self, tmp_path: Path, **changes: object) -> None:
        self.loop = asyncio.new_event_loop()
        # Nothing may write behind a refusal's back while tables are compared: every check-in is written as it
        # is answered (not held for a minute), and no station falls silent long enough for an offline alert.
        changes.setdefault("checkin_flush_interval_s", 0)
        changes.setdefault("offline_after_missed", 100_000)
        self.service = StationmasterService(make_settings(tmp_path, **changes))
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

    def settle(self) -> None:
        """Move the rollouts on now, as an admin's action does: what an earlier, accepted request set going (a
        rollout's station retired, a wave's member deleted) lands before a snapshot, not in the middle of one."""
        asyncio.run_coroutine_threadsafe(self.service.rollouts.settle(), self.loop).result(30)

    def send(self, raw: bytes) -> int:
        """Send raw bytes as one request to the station port; return the answer's status code."""
        return self.exchange(raw).status

    def send_admin(self, raw: bytes) -> int:
        """Send raw bytes as one request to the admin socket; return the answer's status code."""
        return self.exchange(raw, admin=True).status

    def exchange(self, raw: bytes, *, admin: bool = False) -> Answer:
        """Send raw bytes as one request; return the whole answer (only the head of an endless stream)."""
        if admin:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(15)
            sock.connect(str(self.admin_socket))
        else:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=15)
        return _exchange(sock, raw)

    def admin_json(self, method: str, path: str, body: object = None) -> Answer:
        """A well-formed admin request, for setting the scene."""
        data = b"" if body is None else json.dumps(body).encode()
        return self.exchange(request(method, path, data, {"Content-Type": "application/json"}), admin=True)

    def snapshot(self) -> dict[str, list[tuple[object, ...]]]:
        """Every row of every table and every event a refusal may not write: what a refused request must leave."""
        conn = sqlite3.connect(self.db_path, timeout=10)
        try:
            found = {}
            names = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in sorted(set(names) - set(_TRAFFIC_TABLES)):
                skip = _COLUMNS_A_REFUSAL_MAY_WRITE.get(table, ())
                columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})") if row[1] not in skip]
                where = f" WHERE {_ALERTS_A_REFUSAL_MAY_RAISE}" if table == "alerts" else ""
                found[table] = conn.execute(f"SELECT {', '.join(columns)} FROM {table}{where} ORDER BY 1, 2").fetchall()
            marks = ", ".join("?" for _ in _EVENTS_A_REFUSAL_MAY_WRITE)
            found["events"] = conn.execute(
                f"SELECT id, kind, mac, message, data FROM events WHERE kind NOT IN ({marks}) ORDER BY id",
                _EVENTS_A_REFUSAL_MAY_WRITE,
            ).fetchall()
            return found
        finally:
            conn.close()

    def integrity(self) -> str:
        """SQLite's own verdict on the registry file."""
        conn = sqlite3.connect(self.db_path, timeout=10)
        try:
            return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
        finally:
            conn.close()

    def routes(self, which: int) -> list[tuple[str, str]]:
        """(method, path template) of every route of the running app `which` (0: station API, 1: admin API)."""
        app: web.Application = self.service.applications[which]
        found = {(route.method, route.resource.canonical) for route in app.router.routes() if route.resource}
        return sorted(found)


def _exchange(sock: socket.socket, raw: bytes) -> Answer:
    with sock:
        sock.sendall(raw)
        answer = b""
        while b"\r\n\r\n" not in answer or answer.startswith(b"HTTP/1.1 1"):
            if answer.startswith(b"HTTP/1.1 1") and b"\r\n\r\n" in answer:
                answer = answer.partition(b"\r\n\r\n")[2]  # an interim answer (100 Continue): the real one follows
                continue
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        status_line, *header_lines = head.split(b"\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if not any(kind in headers.get("content-type", "").encode() for kind in _ENDLESS):
            # Every request says `Connection: close`: the answer ends when the service hangs up.
            while chunk := sock.recv(65536):
                body += chunk
    parts = status_line.split()
    assert len(parts) >= 2, f"no HTTP answer to {raw[:200]!r}: {answer[:200]!r}"
    return Answer(int(parts[1]), headers, body)


def request(method: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """A raw HTTP/1.1 request."""
    lines = [f"{method} {path} HTTP/1.1", "Host: stationmaster", "Connection: close", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def raw_request(method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes, chunked: bool) -> bytes:
    """A raw HTTP/1.1 request from bytes, framed by Content-Length or by chunks."""
    framing = [(b"Transfer-Encoding", b"chunked")] if chunked else [(b"Content-Length", str(len(body)).encode())]
    head = [method + b" " + target + b" HTTP/1.1", b"Host: stationmaster", b"Connection: close"]
    head += [name + b": " + value for name, value in [*framing, *headers]]
    if chunked:
        pieces = [body[i : i + 100] for i in range(0, len(body), 100)]
        body = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"
    return b"\r\n".join(head) + b"\r\n\r\n" + body
