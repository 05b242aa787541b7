"""JSON under `/api/v1/`: check-in, enrolment, config and events, as the station contract says."""

from __future__ import annotations

from aiohttp import web

from services.adapters.http_errors import json_body
from services.adapters.station_api.keys import REPORTS
from services.core.errors import Unauthorized


async def checkin(request: web.Request) -> web.Response:
    """Record a check-in; answer with commands, the config ETag and the poll interval."""
    answer = await request.app[REPORTS].check_in(await json_body(request), bearer_token(request), request.remote)
    return web.json_response(answer)


async def enrol(request: web.Request) -> web.Response:
    """Record a station announcing itself."""
    answer = await request.app[REPORTS].enrol(await json_body(request), bearer_token(request), request.remote)
    return web.json_response(answer, status=202)


async def config(request: web.Request) -> web.Response:
    """Send a station its own config, or 304 when its ETag is current."""
    offered = [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]
    etag, body = await request.app[REPORTS].config(bearer_token(request), offered)
    headers = {"ETag": etag, "Cache-Control": "no-store"}
    if etag in offered:
        return web.Response(status=304, headers=headers)
    return web.json_response(body, headers=headers)


async def events(request: web.Request) -> web.Response:
    """Store events a station reports."""
    reports = request.app[REPORTS]
    count = await reports.station_events(await json_body(request), bearer_token(request), request.remote)
    return web.json_response({"accepted": count}, status=202)


def bearer_token(request: web.Request) -> str | None:
    """Return the bearer token of a request, None if it has no Authorization header."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or len(token) > 256:
        raise Unauthorized("Authorization must be 'Bearer <token>'")
    return token.strip()
