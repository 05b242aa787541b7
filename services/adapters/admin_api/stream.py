"""`GET /v1/events/stream`: every event and live check-in, as server-sent events.

Plain (the default): one server-sent event per message, as it happens. Compact (`?compact=1`, for a client
across a slow link): messages in batches of `batch_ms` (250 by default), check-ins as what changed, the
whole response deflated if the client accepts it, and each batch's `id:` a cursor that a reconnecting client
sends back as `Last-Event-ID` to have what it missed instead of fetching everything again.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

from aiohttp import web

from appliance.contract.version import api_text
from services.adapters.admin_api.compact import CheckinDeltas, Cursor, Deflater, Message, batch_event, parse_cursor
from services.adapters.admin_api.keys import BUS, INFO, REGISTRY
from services.adapters.admin_api.resume import replay
from services.core.eventbus import Subscription

KEEPALIVE_S = 15.0
DEFAULT_BATCH_MS = 250
_BATCH_MS = range(0, 10_001)


async def event_stream(request: web.Request) -> web.StreamResponse:
    """Stream bus messages until the client goes away; a comment every 15 s keeps tunnels open."""
    if request.query.get("compact") == "1":
        return await _compact_stream(request)
    response = web.StreamResponse(headers=_HEADERS)
    async with request.app[BUS].subscribe() as queue:
        await response.prepare(request)
        await response.write(b": connected\n\n")
        try:
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    await response.write(b": keepalive\n\n")
                    continue
                if not message:
                    break  # the service is stopping
                lines = []
                if message.get("id") is not None:
                    lines.append(f"id: {message['id']}")
                lines.append(f"event: {message['kind']}")
                lines.append("data: " + json.dumps(message, separators=(",", ":")))
                await response.write(("\n".join(lines) + "\n\n").encode())
        except (ConnectionError, asyncio.CancelledError):
            pass
    return response


_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def _compact_stream(request: web.Request) -> web.StreamResponse:
    batch_s = _batch_ms(request) / 1000
    deflate = "deflate" in request.headers.get("Accept-Encoding", "").lower()
    async with request.app[BUS].subscribe() as queue:
        # Subscribed first, then read: nothing stored meanwhile falls between the replay and the live messages.
        start = await replay(request.app[REGISTRY], parse_cursor(request.headers.get("Last-Event-ID")))
        headers = {
            **_HEADERS,
            "X-Stream-Resumed": "1" if start.resumed else "0",
            "X-Stationmaster-API": api_text(),
            "X-Stationmaster-Version": request.app[INFO].version,
        }
        if deflate:
            headers["Content-Encoding"] = "deflate"
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        squeeze: Callable[[bytes], bytes] = Deflater() if deflate else _as_is
        deltas = CheckinDeltas()
        last_event_id = start.last_event_id

        async def send(batch: list[Message], *, live: bool = True) -> None:
            nonlocal last_event_id
            wire = []
            for message in batch:
                event_id = message.get("id")
                if isinstance(event_id, int):
                    if live and start.resumed and event_id <= start.last_event_id:
                        continue  # stored before the replay read it: sent with the replay
                    last_event_id = max(last_event_id, event_id)
                wire.append(deltas.encode(message))
            await response.write(squeeze(batch_event(wire, Cursor(last_event_id, time.time()))))

        try:
            # At once, even empty: the client holds a cursor from its first moment.
            await send(start.messages, live=False)
            while True:
                batch = await _next_batch(queue, batch_s)
                if batch is None:
                    await response.write(squeeze(b": keepalive\n\n"))
                    continue
                await send([message for message in batch if message])
                if {} in batch:
                    break  # the service is stopping
        except (ConnectionError, asyncio.CancelledError):
            pass
    return response


async def _next_batch(queue: Subscription, batch_s: float) -> list[Message] | None:
    """The messages of `batch_s` from the first, cut short by the service stopping (an empty message); None
    after 15 s without any (time for a keepalive)."""
    try:
        batch = [await asyncio.wait_for(queue.get(), KEEPALIVE_S)]
    except TimeoutError:
        return None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + batch_s
    while batch[-1]:
        if queue.empty():
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(queue.get(), left))
            except TimeoutError:
                break
        else:
            batch.append(await queue.get())
    return batch


def _as_is(data: bytes) -> bytes:
    return data


def _batch_ms(request: web.Request) -> int:
    raw = request.query.get("batch_ms", str(DEFAULT_BATCH_MS))
    if not (raw.isascii() and raw.isdigit()) or int(raw) not in _BATCH_MS:
        raise web.HTTPBadRequest(reason=f"batch_ms must be a whole number from 0 to {_BATCH_MS.stop - 1}")
    return int(raw)
