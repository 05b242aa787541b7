"""Fixtures for tests on a throw-away LAN of network namespaces."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import stationmaster_command
from tests.lan.netns import AvahiHost, ScratchLan, can_make_namespaces


class ApplianceInNamespace:
    """`stationmaster serve` inside a test host, using its eth0 only for mDNS unless told otherwise."""

    def __init__(self, ns: str, tmp_path: Path, *extra: str, interfaces: tuple[str, ...] = ("eth0",)) -> None:
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.ns = ns
        self.socket = tmp_path / "admin.sock"
        self.log_path = tmp_path / "serve.log"
        self.process = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                ns,
                *stationmaster_command(
                    "serve",
                    "--data-dir",
                    str(tmp_path / "data"),
                    "--http-port",
                    "8080",
                    "--admin-socket",
                    str(self.socket),
                    *(option for name in interfaces for option in ("--mdns-interface", name)),
                    *extra,
                ),
            ],
            stdout=self.log_path.open("w"),
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + 30
        while not self.socket.is_socket():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve did not start: {self.log_path.read_text()}")
            time.sleep(0.05)  # readiness of another process: nothing to await

    def wait_announced(self, within: float = 30.0) -> None:
        """Return once the service logs that mDNS announces it (probing takes seconds on a loaded machine)."""
        self.wait_logged("mDNS: announcing", within)

    def wait_logged(self, text: str, within: float = 30.0) -> None:
        """Return once the service's log holds `text`."""
        deadline = time.monotonic() + within
        while text not in self.log_path.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve never logged {text!r}: {self.log_path.read_text()}")
            time.sleep(0.05)  # another process's log: nothing to await

    def stop(self) -> int:
        """SIGTERM the service and return its exit code."""
        self.process.terminate()
        return self.process.wait(timeout=30)


@pytest.fixture
def test_lan() -> Iterator[ScratchLan]:
    """A bridge to plug test hosts into (subnet 10.77/16 space, inside namespaces only)."""
    if not can_make_namespaces():
        pytest.skip("network namespaces need root and iproute2 (CI runs these as root)")
    lan = ScratchLan(subnet=77 + os.getpid() % 100)
    yield lan
    lan.remove()


@pytest.fixture
def avahi(test_lan: ScratchLan, tmp_path: Path) -> Iterator[AvahiHost]:
    """An independent mDNS peer: avahi-daemon on host 2 of the test LAN."""
    ns, _ = test_lan.add_host(2)
    host = AvahiHost(ns, tmp_path / "avahi")
    yield host
    host.stop()


@pytest.fixture
def appliance(test_lan: ScratchLan, tmp_path: Path) -> Iterator[ApplianceInNamespace]:
    """The appliance on host 1 of the test LAN."""
    ns, _ = test_lan.add_host(1)
    service = ApplianceInNamespace(ns, tmp_path / "appliance")
    service.wait_announced()
    yield service
    if service.process.poll() is None:
        service.stop()
