"""The admin client turns every way a request can fail into AdminError, and reads the event stream."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from appliance.contract import AdminClient, AdminError, ServiceUnavailable
from tests.conftest import loose

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ServerFactory = Callable[[list[tuple[str, str, Handler]]], Awaitable[Path]]


@pytest.fixture
async def unix_server(tmp_path: Path) -> AsyncIterator[ServerFactory]:
    """Start a tiny aiohttp app with the given routes on a real unix socket in tmp_path."""
    runners: list[web.AppRunner] = []

    async def start(routes: list[tuple[str, str, Handler]]) -> Path:
        app = web.Application()
        for method, route, handler in routes:
            app.router.add_route(method, route, handler)
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        runners.append(runner)
        path = tmp_path / "admin.sock"
        await web.UnixSite(runner, str(path)).start()
        return path

    yield start
    for runner in runners:
        await runner.cleanup()


async def test_without_a_service_the_error_says_how_to_start_one(tmp_path: Path) -> None:
    missing = tmp_path / "nobody.sock"
    async with AdminClient(missing) as client:
        with pytest.raises(ServiceUnavailable) as caught:
            await client.stations()
    message = caught.value.message
    assert f"no Stationmaster service is listening on {missing}" in message
    assert "`stationmaster serve`" in message
    assert "`systemctl start stationmaster`" in message


async def test_a_stale_socket_left_by_a_dead_service_is_unavailable_too(tmp_path: Path) -> None:
    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(stale))  # bound, never listening: connecting is refused, as after a crash
    async with AdminClient(stale) as client:
        with pytest.raises(ServiceUnavailable, match="no Stationmaster service is listening"):
            await client.status()


async def test_a_service_that_hangs_up_mid_request_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "rude.sock"

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        writer.close()

    server = await asyncio.start_unix_server(hang_up, path=str(path))
    async with server, AdminClient(path) as client:
        with pytest.raises(ServiceUnavailable, match="lost the connection"):
            await client.status()


async def test_an_error_body_becomes_an_admin_error(unix_server: ServerFactory) -> None:
    async def not_found(request: web.Request) -> web.Response:
        body = {"error": {"code": "not_found", "message": f"no station {request.match_info['mac']}"}}
        return web.json_response(body, status=404)

    path = await unix_server([("GET", "/v1/stations/{mac}", not_found)])
    async with AdminClient(path) as client:
        with pytest.raises(AdminError) as caught:
            await client.station("AA:BB:CC:DD:EE:FF")
    assert not isinstance(caught.value, ServiceUnavailable)
    assert (caught.value.code, caught.value.message, caught.value.status) == (
        "not_found",
        "no station AA:BB:CC:DD:EE:FF",
        404,
    )


async def test_an_answer_that_is_not_the_service_s_is_an_admin_error(unix_server: ServerFactory) -> None:
    async def teapot(_: web.Request) -> web.Response:
        return web.Response(status=418, text="I'm a teapot")

    async def html(_: web.Request) -> web.Response:
        return web.Response(text="<html></html>", content_type="text/html")

    path = await unix_server([("GET", "/v1/status", teapot), ("GET", "/v1/stations", html)])
    async with AdminClient(path) as client:
        with pytest.raises(AdminError) as refused:
            await client.status()
        with pytest.raises(AdminError) as garbled:
            await client.stations()
    assert (refused.value.code, refused.value.status) == ("http_error", 418)
    assert "418" in refused.value.message
    assert garbled.value.code == "bad_answer"


async def test_a_typed_mac_cannot_escape_its_path_segment(unix_server: ServerFactory) -> None:
    seen: list[str] = []

    async def show(request: web.Request) -> web.Response:
        seen.append(request.match_info["mac"])
        return web.json_response({"mac": request.match_info["mac"], "query": dict(request.query)})

    path = await unix_server([("GET", "/v1/stations/{mac}", show)])
    async with AdminClient(path) as client:
        answer = loose(await client.station("AA:BB?limit=1"))
    assert seen == ["AA:BB?limit=1"]
    assert answer["query"] == {}


async def test_the_event_stream_yields_each_event_and_skips_comments(unix_server: ServerFactory) -> None:
    accepted = {"id": 7, "at": 1764000000.0, "kind": "station_accepted", "mac": "AA:BB:CC:DD:EE:FF", "message": "ok"}
    checkin = {"at": 1764000001.0, "kind": "checkin", "mac": "AA:BB:CC:DD:EE:FF", "rssi": -60}

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b": connected\n\n")
        await response.write(f"id: 7\nevent: station_accepted\ndata: {json.dumps(accepted)}\n\n".encode())
        await response.write(b": keepalive\n\n")
        # A live check-in has no id and must not inherit the previous event's.
        await response.write(f"event: checkin\r\ndata: {json.dumps(checkin)}\r\n\r\n".encode())
        # The SSE fields fill in what a payload leaves out; data may span lines.
        await response.write(b'id: 8\nevent: image_imported\ndata: {"message":\ndata: "new image"}\n\n')
        await response.write(b"data: not json\n\n")
        return response

    path = await unix_server([("GET", "/v1/events/stream", stream)])
    connected = asyncio.Event()
    async with AdminClient(path) as client:
        received = [message async for message in client.stream_events(on_connect=connected.set)]
    assert connected.is_set()
    assert received == [accepted, checkin, {"id": 8, "kind": "image_imported", "message": "new image"}]


async def test_an_event_stream_without_a_service_is_unavailable(tmp_path: Path) -> None:
    async with AdminClient(tmp_path / "nobody.sock") as client:
        with pytest.raises(ServiceUnavailable):
            async for _ in client.stream_events():
                pass
