"""The ceiling for check-ins: a bare aiohttp handler answering the same JSON, with no validation or storage."""

from __future__ import annotations

import sys

from aiohttp import web

ANSWER = {"status": "accepted", "poll_interval_s": 60, "config_etag": None, "commands": [], "ota_path": "/ota"}


async def checkin(request: web.Request) -> web.Response:
    """Read the body and answer as the appliance does, without parsing, checking or storing anything."""
    await request.read()
    return web.json_response(ANSWER)


if __name__ == "__main__":
    app = web.Application()
    app.router.add_post("/api/v1/checkin", checkin)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
