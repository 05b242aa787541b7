"""Admin API: the upstream release feed (follow, unfollow, status with the uplink counter, sync now)."""

from __future__ import annotations

import dataclasses

from aiohttp import web

from services.adapters.http_errors import json_body
from services.adapters.uplink import FeedFollower
from services.adapters.uplink.follower import DEFAULT_INTERVAL_S
from services.core.errors import InvalidInput

FEED = web.AppKey("feed", FeedFollower)

routes = web.RouteTableDef()


@routes.get("/v1/feed")
async def status(request: web.Request) -> web.Response:
    """The feed followed, the bytes it has cost the uplink, and what it refused."""
    return web.json_response(await request.app[FEED].status())


@routes.put("/v1/feed")
async def follow(request: web.Request) -> web.Response:
    """Follow `{"url", "key", "interval_s"}`."""
    body = await json_body(request)
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    answer = await request.app[FEED].follow(
        body.get("url"), body.get("key"), body.get("interval_s", DEFAULT_INTERVAL_S)
    )
    return web.json_response(answer)


@routes.delete("/v1/feed")
async def unfollow(request: web.Request) -> web.Response:
    """Stop following the feed."""
    await request.app[FEED].unfollow()
    return web.Response(status=204)


@routes.post("/v1/feed/sync")
async def sync(request: web.Request) -> web.Response:
    """Sync now; answers when done, with what was imported, refused or cut short."""
    return web.json_response(dataclasses.asdict(await request.app[FEED].sync()))
