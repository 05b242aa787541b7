"""The `stationmaster` process: 0 done, 1 refused, 2 usage, 3 unreachable, and never a traceback."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

STATION = {
    "mac": "AA:BB:CC:DD:EE:FF",
    "name": "STA2",
    "status": "accepted",
    "chip": "esp32",
    "tags": ["garden"],
    "version": "1.4.0",
    "assigned_version": "1.5.0",
    "rssi": -67,
    "ip": "192.168.1.23",
    "last_seen_at": 1764000100.5,
    "created_at": 1764000000.0,
}
EVENT = {"id": 3, "at": 1764000000.0, "kind": "station_accepted", "mac": STATION["mac"], "message": "STA2 accepted"}


@dataclass(frozen=True, slots=True)
class Result:
    """What a finished `stationmaster` process left behind."""

    code: int
    stdout: str
    stderr: str


async def stationmaster(socket_path: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    """Run `stationmaster ARGS` against the socket, without blocking the loop the fake service runs on."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "appliance",
        *args,
        env={**os.environ, "STATIONMASTER_ADMIN_SOCKET": str(socket_path), **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert "Traceback" not in stderr.decode(), stderr.decode()
    assert process.returncode is not None
    return Result(process.returncode, stdout.decode(), stderr.decode())


@pytest.fixture
async def fake_service(tmp_path: Path) -> AsyncIterator[Path]:
    """A stand-in for the admin API on a real unix socket: one station, one event, errors for the rest."""

    async def stations(_: web.Request) -> web.Response:
        return web.json_response({"stations": [STATION]})

    async def station(request: web.Request) -> web.Response:
        if request.match_info["mac"] == STATION["mac"]:
            return web.json_response(STATION)
        body = {"error": {"code": "not_found", "message": f"no station {request.match_info['mac']}"}}
        return web.json_response(body, status=404)

    async def events(_: web.Request) -> web.Response:
        return web.json_response({"events": [EVENT]})

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(f"id: 4\nevent: station_renamed\ndata: {json.dumps({**EVENT, 'id': 4})}\n\n".encode())
        return response  # then the "service" stops

    app = web.Application()
    app.router.add_get("/v1/stations", stations)
    app.router.add_get("/v1/stations/{mac}", station)
    app.router.add_get("/v1/events", events)
    app.router.add_get("/v1/events/stream", stream)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    path = tmp_path / "admin.sock"
    await web.UnixSite(runner, str(path)).start()
    yield path
    await runner.cleanup()


async def test_the_station_list_is_a_table_or_the_api_s_json(fake_service: Path) -> None:
    table = await stationmaster(fake_service, "stations")
    assert table.code == 0
    header, row = table.stdout.splitlines()
    assert header.split() == ["NAME", "MAC", "STATUS", "CHIP", "VERSION", "RSSI", "LAST", "SEEN", "IP"]
    assert row.split()[:5] == ["STA2", "AA:BB:CC:DD:EE:FF", "accepted", "esp32", "1.4.0"]
    assert "→ 1.5.0" in row
    assert "d ago" in row
    machine = await stationmaster(fake_service, "stations", "--json")
    assert json.loads(machine.stdout) == {"stations": [STATION]}


async def test_a_refusal_exits_1_with_the_service_s_message(fake_service: Path) -> None:
    result = await stationmaster(fake_service, "stations", "show", "11:22:33:44:55:66")
    assert (result.code, result.stdout) == (1, "")
    assert result.stderr.strip() == "error: no station 11:22:33:44:55:66"


async def test_no_service_exits_3_and_says_how_to_start_one(tmp_path: Path) -> None:
    result = await stationmaster(tmp_path / "nobody.sock", "status")
    assert result.code == 3
    assert "stationmaster serve" in result.stderr


async def test_bare_stationmaster_prints_help_and_how_to_start_a_service(tmp_path: Path) -> None:
    result = await stationmaster(tmp_path / "nobody.sock")
    assert result.code == 0
    assert "usage: stationmaster" in result.stdout
    assert "stationmaster serve" in result.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("firmware", "import", "/nonexistent/app.bin"), "cannot read /nonexistent/app.bin"),
        (("unassign", "0"), "must be at least 1"),
        (("assign", "abcdef"), "one of the arguments --station --tag is required"),
        (("config", "check", "--http-port", "70000"), "http_port must be from 1 to 65535"),
    ],
)
async def test_usage_and_config_errors_exit_2(tmp_path: Path, args: tuple[str, ...], words: str) -> None:
    result = await stationmaster(tmp_path / "nobody.sock", *args)
    assert result.code == 2
    assert words in result.stderr


async def test_following_events_prints_history_then_live_events(fake_service: Path) -> None:
    result = await stationmaster(fake_service, "events", "--follow", "--json")
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [3, 4]
    # The fake service ends the stream, as a stopping service does.
    assert result.code == 3
    assert "stopped" in result.stderr


async def test_config_check_names_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "sm.toml"
    path.write_text("[http]\nport = 9001\n")
    result = await stationmaster(tmp_path / "x.sock", "--config", str(path), "config", "check")
    assert result.code == 0
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert str(path) in lines["config"]
    assert f"9001  ({path})" in lines["http_port"]
