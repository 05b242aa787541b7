"""Playing a station against the real service: check-ins as firmware sends them, and the admin's side of it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from appliance.contract.client import AdminClient


def station_key(mac: str) -> str:
    """The station key a test's station made at its first boot (its own, one per MAC, as firmware keeps it)."""
    return "test-key-" + mac.replace(":", "").lower() + "-0123456789abcdef"


async def check_in(http: aiohttp.ClientSession, mac: str, token: str | None = None, **fields: Any) -> dict[str, Any]:
    """One check-in, with the station's key; returns the answer (the status must be 200)."""
    body = {
        "mac": mac,
        "chip": "esp32",
        "version": "1.0.0",
        "rssi": -60,
        "uptime_s": 100,
        "station_key": station_key(mac),
        **fields,
    }
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.post("/api/v1/checkin", json=body, headers=headers) as response:
        answer: dict[str, Any] = await response.json()
        assert response.status == 200, answer
        return answer


async def accepted(http: aiohttp.ClientSession, admin: AdminClient, mac: str, **fields: Any) -> str:
    """Bring a station to accepted and return its token (it has checked in with it once)."""
    await check_in(http, mac, **fields)
    await admin.accept(mac)
    token = str((await check_in(http, mac, **fields))["token"])
    await check_in(http, mac, token, **fields)
    return token


@asynccontextmanager
async def event_stream(admin: AdminClient) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
    """Every stored event on the admin stream from now on (live check-ins left out)."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    connected = asyncio.Event()

    async def listen() -> None:
        async for message in admin.stream_events(on_connect=connected.set):
            if message.get("id") is not None:
                queue.put_nowait(message)

    task = asyncio.create_task(listen())
    await asyncio.wait_for(connected.wait(), 5)
    try:
        yield queue
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def next_event(
    queue: asyncio.Queue[dict[str, Any]], want: Callable[[dict[str, Any]], bool] | str, within: float = 10.0
) -> dict[str, Any]:
    """The next event matching `want` (a kind, or a predicate), waiting at most `within` seconds."""
    match = (lambda e: e["kind"] == want) if isinstance(want, str) else want

    async def wait() -> dict[str, Any]:
        while True:
            event = await queue.get()
            if match(event):
                return event

    return await asyncio.wait_for(wait(), within)
