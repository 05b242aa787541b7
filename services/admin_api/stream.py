"""`GET /v1/events/stream`: every event and live check-in, as server-sent events."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from services.admin_api.keys import BUS

KEEPALIVE_S = 15.0


async def event_stream(request: web.Request) -> web.StreamResponse:
    """Stream bus messages until the client goes away; a comment every 15 s keeps tunnels open."""
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
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
