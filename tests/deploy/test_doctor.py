"""`stationmaster doctor` on conditions it can meet for real: no service, a socket it may not open, a taken port."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ServeProcess, free_port, stationmaster_command


def doctor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `stationmaster doctor --json`."""
    command = stationmaster_command("doctor", "--json", *args)
    return subprocess.run(
        command, capture_output=True, text=True, timeout=60, check=False, env={**os.environ, **(env or {})}
    )


def findings(result: subprocess.CompletedProcess[str]) -> dict[str, dict[str, str]]:
    """The first finding of each check, by check name."""
    found: dict[str, dict[str, str]] = {}
    for item in json.loads(result.stdout):
        found.setdefault(item["check"], item)
    return found


def test_a_running_service_is_found_healthy(serve_process: ServeProcess) -> None:
    result = doctor("--admin-socket", str(serve_process.socket), env={"STATIONMASTER_MDNS": "0"})
    found = findings(result)
    assert found["service"]["verdict"] == "ok"
    assert found["socket"]["verdict"] == "ok"
    assert "mode 660" in found["socket"]["seen"]
    assert found["port"]["seen"] == f"stations reach the service on port {serve_process.port}"
    assert found["clock"]["verdict"] == "ok"
    assert found["disk"]["verdict"] in ("ok", "warn")
    assert result.returncode == 0, result.stdout


def test_no_service_says_how_to_start_it_and_that_the_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = doctor(
            "--admin-socket",
            str(tmp_path / "missing.sock"),
            env={"STATIONMASTER_HTTP_HOST": "127.0.0.1", "STATIONMASTER_HTTP_PORT": str(port)},
        )
    found = findings(result)
    assert result.returncode == 1
    assert found["service"]["verdict"] == "fail"
    assert "systemctl start stationmaster" in found["service"]["fix"]
    assert found["port"]["verdict"] == "fail"
    assert f"port {port} is taken by another program" in found["port"]["seen"]
    # Bound to loopback, the service would announce nothing by mDNS: said before it even runs.
    assert "not announcing: the station API listens on loopback only" in found["mdns"]["seen"]
    free = doctor(
        "--admin-socket",
        str(tmp_path / "missing.sock"),
        env={"STATIONMASTER_HTTP_HOST": "127.0.0.1", "STATIONMASTER_HTTP_PORT": str(free_port())},
    )
    assert findings(free)["port"]["verdict"] == "ok"


def test_a_file_in_place_of_the_socket_is_named(tmp_path: Path) -> None:
    impostor = tmp_path / "admin.sock"
    impostor.write_text("not a socket")
    found = findings(doctor("--admin-socket", str(impostor)))
    assert found["socket"]["verdict"] == "fail"
    assert "is not a socket" in found["socket"]["seen"]


@pytest.fixture
def service_in_run_like_folder() -> Iterator[ServeProcess]:
    """A service whose socket's folder is as on the Pi: 0750 in a folder anyone may look into (/run)."""
    folder = Path(tempfile.mkdtemp(prefix="stationmaster-run-"))
    folder.chmod(0o750)
    service = ServeProcess(folder)
    service.start()
    yield service
    service.stop()
    shutil.rmtree(folder)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
def test_someone_outside_the_group_is_told_to_join_it_and_not_that_the_service_squats_its_port(
    service_in_run_like_folder: ServeProcess,
) -> None:
    service = service_in_run_like_folder
    # `nobody` may not even look at the socket. The interpreter is loaded as root, then gives its rights up.
    probe = (
        "import os, sys, concurrent.futures.thread, appliance.cli.main as cli;"
        "os.setgroups([]); os.setegid(65534); os.seteuid(65534);"
        f"sys.exit(cli.main(['doctor', '--json', '--admin-socket', {str(service.socket)!r}]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={
            **os.environ,
            "STATIONMASTER_MDNS": "0",
            "STATIONMASTER_HTTP_HOST": "127.0.0.1",
            "STATIONMASTER_HTTP_PORT": str(service.port),
        },
    )
    found = findings(result)
    assert result.returncode == 1, result.stdout + result.stderr
    assert found["socket"]["verdict"] == "fail"
    assert "only members of group stationmaster" in found["socket"]["seen"]
    assert "usermod -aG stationmaster" in found["socket"]["fix"]
    # The port is the service's own: its listener is the user its socket's folder belongs to.
    assert found["port"] == {
        "check": "port",
        "verdict": "ok",
        "seen": f"port {service.port} is served by root, the user the service runs as",
        "fix": "",
    }
