"""The ceiling for check-ins: a bare aiohttp handler parsing and answering the same JSON, nothing stored."""

from __future__ import annotations

import json
import sys

from aiohttp import web

ANSWER = {"status": "accepted", "poll_interval_s": 60, "config_etag": None, "commands": [], "ota_path": "/ota"}


async def checkin(request: web.Request) -> web.Response:
    """Parse the body's JSON and answer as the appliance does, without checking or storing anything."""
    json.loads(await request.read())
    return web.json_response(ANSWER)


if __name__ == "__main__":
    app = web.Application()
    app.router.add_post("/api/v1/checkin", checkin)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
