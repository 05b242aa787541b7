"""Admin API: commands for stations (send, list, show, cancel)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiohttp import web

from services.adapters.admin_api.keys import REGISTRY
from services.adapters.http_errors import json_body
from services.core.errors import InvalidInput
from services.core.macaddr import parse_mac
from services.core.models import Command
from services.core.numbers import parse_whole_number
from services.domain.commands import CommandQueue

COMMAND_QUEUE = web.AppKey("command_queue", CommandQueue)
routes = web.RouteTableDef()


@routes.get("/v1/commands")
async def list_commands(request: web.Request) -> web.Response:
    """Commands newest first; `station=MAC` for one station's, `open=1` for the unfinished only."""
    station = request.query.get("station")
    found = await request.app[REGISTRY].commands.listed(
        mac=None if station is None else parse_mac(station),
        open_only=request.query.get("open") in ("1", "true"),
        limit=_limit(request),
    )
    return web.json_response({"commands": [command_json(c) for c in found]})


@routes.post("/v1/commands")
async def send_command(request: web.Request) -> web.Response:
    """Queue a command: {"station", "kind", "args", "ttl_s", "force"}."""
    body = await json_body(request)
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    command = await request.app[COMMAND_QUEUE].send(
        body.get("station"), body.get("kind"), body.get("args"), ttl_s=body.get("ttl_s"), force=body.get("force", False)
    )
    return web.json_response(command_json(command), status=201)


@routes.get("/v1/commands/{id}")
async def show_command(request: web.Request) -> web.Response:
    """One command."""
    return web.json_response(command_json(await request.app[REGISTRY].commands.require(_id(request))))


@routes.post("/v1/commands/{id}/cancel")
async def cancel_command(request: web.Request) -> web.Response:
    """Cancel a command the station has not finished."""
    return web.json_response(command_json(await request.app[COMMAND_QUEUE].cancel(_id(request))))


def command_json(command: Command) -> dict[str, Any]:
    """A command record."""
    return asdict(command)


def _id(request: web.Request) -> int:
    return parse_whole_number(request.match_info["id"], "a command id")


def _limit(request: web.Request) -> int:
    return parse_whole_number(request.query.get("limit", "200"), "query parameter 'limit'", 1, 10_000)
