"""Shared fixtures: a real service on real sockets in a temporary data directory."""

from __future__ import annotations

import asyncio
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from appliance.config import Settings
from appliance.contract.client import AdminClient
from services.root.service import StationmasterService


def loose(answer: Mapping[str, Any]) -> dict[str, Any]:
    """An admin answer read as plain JSON: a test may index what the contract says may be None."""
    return dict(answer)


def make_settings(tmp_path: Path, **changes: object) -> Settings:
    """Settings for a test service: loopback, a free port, no mDNS, everything under tmp_path, and a clock that
    says it is synchronised (its own flag file, not the machine's)."""
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "admin_socket": tmp_path / "admin.sock",
        "http_host": "127.0.0.1",
        "http_port": 0,
        "mdns": False,
        "usb_ports": (),  # no test service touches the machine's serial ports unless it names them
    }
    values.update(changes)
    if "clock_sync_flag" not in values:
        values["clock_sync_flag"] = synchronised_flag(tmp_path)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[StationmasterService]:
    """A running service in this process."""
    async with StationmasterService(make_settings(tmp_path)) as running:
        yield running


@pytest.fixture
async def http(service: StationmasterService) -> AsyncIterator[aiohttp.ClientSession]:
    """A client session whose relative URLs reach the station API."""
    async with aiohttp.ClientSession(base_url=service.station_url) as session:
        yield session


@pytest.fixture
async def admin(service: StationmasterService) -> AsyncIterator[AdminClient]:
    """An admin client on the service's unix socket."""
    async with AdminClient(service.settings.admin_socket) as client:
        yield client


def synchronised_flag(tmp_path: Path, *, present: bool = True) -> Path:
    """A stand-in for systemd-timesyncd's flag under tmp_path (its folder made): present says "synchronised"."""
    flag = tmp_path / "timesync" / "synchronized"
    flag.parent.mkdir(parents=True, exist_ok=True)
    if present:
        flag.touch()
    else:
        flag.unlink(missing_ok=True)
    return flag


def free_port() -> int:
    """Return a TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stationmaster_command(*args: str) -> list[str]:
    """The `stationmaster` command line, run by this interpreter."""
    return [sys.executable, "-m", "appliance", *args]


class ServeProcess:
    """`stationmaster serve` in a child process, as systemd runs it."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        env: dict[str, str] | None = None,
        open_files: tuple[int, int] | None = None,
        prefix: Sequence[str] = (),
    ) -> None:
        self.extra_env = env or {}
        self.prefix = list(prefix)  # a command that runs serve, e.g. inside a mount namespace
        self.open_files = open_files  # (soft, hard) RLIMIT_NOFILE for the child, as a unit's LimitNOFILE= sets
        self.port = free_port()
        self.data_dir = tmp_path / "data"
        self.socket = tmp_path / "admin.sock"
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / "serve.log"
        self.sync_flag = synchronised_flag(tmp_path)  # removed, the service's clock is not synchronised
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the service and wait until its admin socket answers."""
        # A killed service leaves its socket file behind: readiness must mean the new process's socket.
        self.socket.unlink(missing_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.prefix
            + stationmaster_command(
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--http-host",
                "127.0.0.1",
                "--http-port",
                str(self.port),
                "--admin-socket",
                str(self.socket),
                "--no-mdns",
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            # No serve process a test starts watches the machine's own serial ports, nor asks its clock.
            env={
                **os.environ,
                "PYTHONUNBUFFERED": "1",
                "STATIONMASTER_USB_PORTS": "",
                "STATIONMASTER_CLOCK_SYNC_FLAG": str(self.sync_flag),
                **self.extra_env,
            },
            preexec_fn=None if self.open_files is None else self._limit_open_files,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited with {self.proc.returncode}: {self.log_path.read_text()}")
            if self.socket.is_socket() and _accepts(self.port):
                return
            time.sleep(0.05)  # polling the process's readiness: there is no event to await across processes
        raise TimeoutError(f"serve did not come up: {self.log_path.read_text()}")

    @property
    def pid(self) -> int:
        """The running service's process id."""
        assert self.proc is not None
        return self.proc.pid

    def _limit_open_files(self) -> None:
        assert self.open_files is not None
        resource.setrlimit(resource.RLIMIT_NOFILE, self.open_files)

    def stop(self) -> int:
        """SIGTERM the service and return its exit code."""
        assert self.proc is not None
        self.proc.terminate()
        return self.proc.wait(timeout=30)

    def kill(self) -> None:
        """SIGKILL the service, as a power cut would."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=30)


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@asynccontextmanager
async def serving(tmp_path: Path, env: dict[str, str] | None = None) -> AsyncIterator[ServeProcess]:
    """`serve` in a child process (with the variables `env`), started; stopped at the end if it still runs."""
    process = ServeProcess(tmp_path, env=env)
    await asyncio.to_thread(process.start)
    try:
        yield process
    finally:
        if process.proc is not None and process.proc.poll() is None:
            process.stop()


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[ServeProcess]:
    """A `stationmaster serve` child process, stopped at the end of the test."""
    process = ServeProcess(tmp_path)
    process.start()
    yield process
    if process.proc is not None and process.proc.poll() is None:
        process.stop()
