"""Slow clients (slowloris: headers or bodies trickling in) cannot starve the stations that behave."""

from __future__ import annotations

import asyncio

import aiohttp

from services.service import StationmasterService

SLOW_CLIENTS = 300


async def _open_slow(port: int, *, in_body: bool) -> asyncio.StreamWriter:
    """A connection that sends part of a request and then goes quiet."""
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    if in_body:
        writer.write(b'POST /api/v1/checkin HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{"mac": ')
    else:
        writer.write(b"POST /api/v1/checkin HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    await writer.drain()
    return writer


async def test_hundreds_of_stalled_requests_do_not_block_a_check_in(
    service: StationmasterService, http: aiohttp.ClientSession
) -> None:
    stalled = [await _open_slow(service.station_port, in_body=index % 2 == 0) for index in range(SLOW_CLIENTS)]
    try:
        # While every stalled request is still open, a station that behaves is served.
        async with http.post("/api/v1/checkin", json={"mac": "24:0A:C4:00:00:99", "rssi": -50}) as response:
            assert response.status == 200
        async with http.get("/ota", headers={"x-ESP8266-STA-MAC": "24:0A:C4:00:00:98"}) as response:
            assert response.status == 304
        for writer in stalled[:50]:  # a trickle of bytes keeps them alive, and still nobody waits on them
            writer.write(b"a")
        async with http.post("/api/v1/checkin", json={"mac": "24:0A:C4:00:00:99", "rssi": -51}) as response:
            assert response.status == 200
    finally:
        for writer in stalled:
            writer.close()
    assert service.registry is not None
    # The registry's view: a check-in that only updates the signal is held in memory a minute before it is written.
    station = await service.registry.stations.get("24:0A:C4:00:00:99")
    assert station is not None
    assert station.rssi == -51
