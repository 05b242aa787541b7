"""`POST /api/v1/commands/<id>`: a station says how a command it was given went."""

from __future__ import annotations

from aiohttp import web

from services.adapters.http_errors import json_body
from services.adapters.station_api.api_v1 import bearer_token
from services.adapters.station_api.keys import REPORTS
from services.core.errors import Unauthorized
from services.core.numbers import parse_whole_number
from services.domain.commands import CommandQueue

COMMANDS = web.AppKey("commands", CommandQueue)


async def command_result(request: web.Request) -> web.Response:
    """Record a station's answer about one of its own commands (bearer token required)."""
    command_id = parse_whole_number(request.match_info["id"], "a command id")
    bearer = bearer_token(request)
    if bearer is None:
        raise Unauthorized("a command's answer needs the station's bearer token")
    mac = await request.app[REPORTS].station_for_token(bearer)
    command = await request.app[COMMANDS].report(mac, command_id, await json_body(request))
    return web.json_response({"id": command.id, "state": command.state})
