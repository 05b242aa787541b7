"""Admin API: alerts (list, dismiss), a station's restarts and its downsampled history."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiohttp import web

from services.adapters.admin_api.keys import REGISTRY
from services.core.errors import InvalidInput, NotFound
from services.core.macaddr import parse_mac
from services.core.models import Alert
from services.core.numbers import parse_whole_number
from services.domain.health import dismiss_alert
from services.store.journal import EventLog, Journal

ALERT_JOURNAL = web.AppKey("alert_journal", Journal)
routes = web.RouteTableDef()
_SPANS = {"hour": 3600, "day": 86400}


@routes.get("/v1/alerts")
async def list_alerts(request: web.Request) -> web.Response:
    """Open alerts newest first (`all=1`: cleared ones too; `station=MAC`: one station's)."""
    station = request.query.get("station")
    found = await request.app[REGISTRY].health.alerts(
        open_only=request.query.get("all") not in ("1", "true"),
        mac=None if station is None else parse_mac(station),
        limit=_int(request, "limit", 500),
    )
    return web.json_response({"alerts": [alert_json(a) for a in found]})


@routes.post("/v1/alerts/{id}/clear")
async def clear(request: web.Request) -> web.Response:
    """Dismiss an open alert (it is raised again if its cause persists)."""
    alert_id = parse_whole_number(request.match_info["id"], "an alert id")
    registry = request.app[REGISTRY]
    if await registry.health.alert(alert_id) is None:
        raise NotFound(f"no alert {alert_id}")

    async def op(log: EventLog) -> Alert | None:
        return await dismiss_alert(log, alert_id, "dismissed by the admin")

    await request.app[ALERT_JOURNAL].write(op)
    alert = await registry.health.alert(alert_id)
    assert alert is not None
    return web.json_response(alert_json(alert))


@routes.get("/v1/stations/{mac}/restarts")
async def restarts(request: web.Request) -> web.Response:
    """A station's restarts with their causes, newest first."""
    registry = request.app[REGISTRY]
    station = await registry.stations.require(parse_mac(request.match_info["mac"]))
    found = await registry.health.restarts(station.mac, _int(request, "limit", 100))
    return web.json_response({"restarts": [asdict(r) for r in found]})


@routes.get("/v1/stations/{mac}/rollups")
async def rollups(request: web.Request) -> web.Response:
    """A station's history summarised by hour (`span=hour`, the default) or day, newest first."""
    span = request.query.get("span", "hour")
    if span not in _SPANS:
        raise InvalidInput("query parameter 'span' must be hour or day")
    registry = request.app[REGISTRY]
    station = await registry.stations.require(parse_mac(request.match_info["mac"]))
    found = await registry.health.rollups(station.mac, _SPANS[span], _int(request, "limit", 500))
    return web.json_response({"rollups": found})


def alert_json(alert: Alert) -> dict[str, Any]:
    """An alert record."""
    return asdict(alert)


def _int(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    return parse_whole_number(raw, f"query parameter {name!r}", 1, 100_000)
