"""The ceilings in aiohttp itself: a bare handler parsing and answering the check-in JSON, nothing stored; and,
given an image's path, a bare `FileResponse` of it (aiohttp's own sendfile) at /ota, nothing decided or logged.

Run: python -m tests.benchmarks.bare_server PORT [IMAGE]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from aiohttp import web

ANSWER = {"status": "accepted", "poll_interval_s": 60, "config_etag": None, "commands": [], "ota_path": "/ota"}


async def checkin(request: web.Request) -> web.Response:
    """Parse the body's JSON and answer as the appliance does, without checking or storing anything."""
    json.loads(await request.read())
    return web.json_response(ANSWER)


def image_route(path: Path) -> web.RouteDef:
    """GET /ota answering the file at `path` with aiohttp's FileResponse."""

    async def ota(_: web.Request) -> web.FileResponse:
        return web.FileResponse(path)

    return web.get("/ota", ota)


if __name__ == "__main__":
    app = web.Application()
    app.router.add_post("/api/v1/checkin", checkin)
    if len(sys.argv) > 2:
        app.router.add_routes([image_route(Path(sys.argv[2]))])
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
