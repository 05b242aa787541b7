"""The whole product from the outside: `serve`, `simulate` and the admin commands as separate processes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ServeProcess, stationmaster_command
from tests.imagefactory import build_image

SIMULATED = 200
MINUTE = 60


def admin_command(serve: ServeProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """Run an admin command against the service, finding the socket through the environment."""
    env = {**os.environ, "STATIONMASTER_ADMIN_SOCKET": str(serve.socket)}
    return subprocess.run(
        stationmaster_command(*args), capture_output=True, text=True, env=env, timeout=120, check=False
    )


@pytest.mark.slow
def test_200_simulated_stations_run_for_a_minute_without_an_error(serve_process: ServeProcess) -> None:
    simulate = subprocess.run(
        stationmaster_command(
            "simulate",
            "--count",
            str(SIMULATED),
            "--url",
            serve_process.url,
            "--interval",
            "5",
            "--duration",
            str(MINUTE),
        ),
        capture_output=True,
        text=True,
        timeout=MINUTE + 60,
        check=False,
    )
    assert simulate.returncode == 0, simulate.stderr[-3000:]
    listed = admin_command(serve_process, "stations", "--json")
    assert listed.returncode == 0, listed.stderr
    stations = json.loads(listed.stdout)["stations"]
    assert len(stations) == SIMULATED
    assert all(s["version"] == "1.0.0" and s["status"] == "pending" for s in stations)
    assert serve_process.stop() == 0, "SIGTERM stops the service cleanly"


def test_the_cli_imports_accepts_and_assigns(serve_process: ServeProcess, tmp_path: Path) -> None:
    image = tmp_path / "weather-1.4.0.bin"
    image.write_bytes(build_image("esp32", project="weather", version="1.4.0"))
    imported = admin_command(serve_process, "firmware", "import", str(image), "--json")
    assert imported.returncode == 0, imported.stderr
    sha = json.loads(imported.stdout)["sha256"]
    bad = tmp_path / "broken.bin"
    bad.write_bytes(image.read_bytes()[:1000])
    refused = admin_command(serve_process, "firmware", "import", str(bad))
    assert refused.returncode == 1
    assert "truncated" in refused.stderr
    assert "Traceback" not in refused.stderr
    listed = admin_command(serve_process, "firmware", "list")
    assert "weather" in listed.stdout
    assert "1.4.0" in listed.stdout
    unknown = admin_command(serve_process, "assign", sha[:10], "--station", "24:0A:C4:00:00:01")
    assert unknown.returncode == 1
    assert "no station" in unknown.stderr


def test_without_a_service_the_cli_says_how_to_start_one(tmp_path: Path) -> None:
    env = {**os.environ, "STATIONMASTER_ADMIN_SOCKET": str(tmp_path / "nobody.sock")}
    result = subprocess.run(
        stationmaster_command("stations"), capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode == 3
    assert "stationmaster serve" in result.stderr


def test_a_taken_port_is_a_clear_startup_error(serve_process: ServeProcess, tmp_path: Path) -> None:
    second = subprocess.run(
        stationmaster_command(
            "serve",
            "--data-dir",
            str(tmp_path / "other"),
            "--http-host",
            "127.0.0.1",
            "--http-port",
            str(serve_process.port),
            "--admin-socket",
            str(tmp_path / "other.sock"),
            "--no-mdns",
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert second.returncode == 3
    assert f"port {serve_process.port}" in second.stderr
    assert "already in use" in second.stderr
    taken_socket = subprocess.run(
        stationmaster_command(
            "serve",
            "--data-dir",
            str(tmp_path / "other"),
            "--http-host",
            "127.0.0.1",
            "--http-port",
            "0",
            "--admin-socket",
            str(serve_process.socket),
            "--no-mdns",
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert taken_socket.returncode == 3
    assert "already listening" in taken_socket.stderr


def test_config_check_shows_each_setting_and_its_source(tmp_path: Path) -> None:
    env = {**os.environ, "STATIONMASTER_HTTP_PORT": "9123"}
    result = subprocess.run(
        stationmaster_command("config", "check", "--data-dir", str(tmp_path), "--log-level", "debug"),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert "9123" in lines["http_port"]
    assert "STATIONMASTER_HTTP_PORT" in lines["http_port"]
    assert "(command line)" in lines["log_level"]
    assert "(default)" in lines["poll_interval_s"]
    bad = subprocess.run(
        stationmaster_command("config", "check"),
        capture_output=True,
        text=True,
        env={**os.environ, "STATIONMASTER_HTTP_PORT": "http"},
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert "STATIONMASTER_HTTP_PORT must be a whole number" in bad.stderr
