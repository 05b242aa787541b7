"""`stationmaster serve` speaks systemd's notify protocol itself: READY=1, WATCHDOG=1 pings, STOPPING=1."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import free_port, stationmaster_command


def _serve(tmp_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        stationmaster_command(
            "serve",
            "--data-dir",
            str(tmp_path / "data"),
            "--http-host",
            "127.0.0.1",
            "--http-port",
            str(free_port()),
            "--admin-socket",
            str(tmp_path / "admin.sock"),
            "--no-mdns",
        ),
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _receive(sock: socket.socket, until: str, deadline_s: float = 30.0) -> list[str]:
    """Collect datagrams until one contains `until` (each recv blocks with a timeout: no sleeping)."""
    seen: list[str] = []
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        message = sock.recv(4096).decode()
        seen.append(message)
        if until in message.splitlines():
            return seen
    raise AssertionError(f"no {until} within {deadline_s} s; got {seen}")


def test_serve_reports_ready_pets_the_watchdog_and_says_it_stops(tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        # 1 s watchdog: the service must ping every half second, as systemd would demand.
        proc = _serve(tmp_path, {"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "1000000"})
        try:
            ready = _receive(sock, "READY=1")
            # READY=1 comes only once the admin socket answers: a unit "started" is one that serves.
            assert (tmp_path / "admin.sock").is_socket()
            lines = [line for message in ready for line in message.splitlines()]
            assert any(line.startswith("STATUS=serving stations on http://127.0.0.1:") for line in lines)
            started = time.monotonic()
            pings = 0
            while pings < 3:
                pings += _receive(sock, "WATCHDOG=1").count("WATCHDOG=1")
            # Three pings at a 0.5 s period take about a second; far more would mean no pause between them.
            assert time.monotonic() - started > 0.5
            proc.terminate()
            _receive(sock, "STOPPING=1")
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_an_abstract_notify_socket_works_too(tmp_path: Path) -> None:
    name = f"stationmaster-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        proc = _serve(tmp_path, {"NOTIFY_SOCKET": "@" + name})
        try:
            _receive(sock, "READY=1")
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def test_a_watchdog_meant_for_another_process_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        # WATCHDOG_PID names the process systemd watches; a child that inherited the variables must not ping.
        proc = _serve(tmp_path, {"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"})
        try:
            _receive(sock, "READY=1")
            # Proving an absence needs a bounded wait: five of the 0.1 s ping periods it would have used.
            sock.settimeout(0.5)
            with pytest.raises(TimeoutError):
                sock.recv(4096)
            proc.terminate()
            _receive(sock, "STOPPING=1")
        finally:
            proc.wait(timeout=30)
