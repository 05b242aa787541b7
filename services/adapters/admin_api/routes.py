"""Admin API handlers: stations, firmware, assignments, events (the stream lives in stream.py)."""

from __future__ import annotations

import dataclasses

from aiohttp import web

from appliance.contract.version import api_text
from services.adapters.admin_api.keys import ADMINISTRATION, CLOCK, INFO, LIBRARY, MDNS, PUSHER, REGISTRY
from services.adapters.admin_api.wire import assignment_json, clock_json, event_json, image_json, station_json
from services.adapters.http_errors import json_body, read_body
from services.core.bodies import json_object
from services.core.errors import InvalidInput
from services.core.macaddr import parse_mac
from services.core.models import Station
from services.core.numbers import parse_whole_number
from services.domain.fleet.administration import StatusChange
from services.domain.health import Presence

routes = web.RouteTableDef()


@routes.get("/v1/status")
async def status(request: web.Request) -> web.Response:
    """Service version, uptime and station counts."""
    info, keeper = request.app[INFO], request.app[CLOCK]
    timeline = keeper.timeline
    counts = await request.app[REGISTRY].stations.counts_by_status()
    return web.json_response(
        {
            "version": info.version,
            "api": api_text(),
            # The service's own time, with which every stamp it sends was taken (a client ages them by it).
            "now": timeline(),
            "started_at": timeline.started_at,
            "uptime_s": round(timeline.uptime_s(), 1),
            "clock": clock_json(keeper),
            "station_port": info.station_port,
            "station_url": info.station_url,
            "hostname": info.hostname,
            "poll_interval_s": info.poll_interval_s,
            "late_after_s": _presence(request).late_after_s,
            "offline_after_s": _presence(request).offline_after_s,
            "counts": counts,
            "alerts_open": await request.app[REGISTRY].health.open_count(),
            "mdns": dataclasses.asdict(announced) if (announced := request.app[MDNS]) else None,
        }
    )


@routes.get("/v1/lan")
async def lan(request: web.Request) -> web.Response:
    """What mDNS shows on the site's LAN."""
    return web.json_response({"services": await request.app[REGISTRY].lan.all()})


@routes.post("/v1/lan/push")
async def lan_push(request: web.Request) -> web.Response:
    """Push an image to an ArduinoOTA station; answers when the station has its verdict."""
    result = await request.app[PUSHER].push(json_object(await json_body(request)))
    return web.json_response(dataclasses.asdict(result))


@routes.get("/v1/stations")
async def list_stations(request: web.Request) -> web.Response:
    """Every station with what it should run."""
    registry = request.app[REGISTRY]
    presence, now = _presence(request), request.app[CLOCK].timeline()
    assigned = await registry.images.assigned_images()  # one read for the whole list, not one a station
    return web.json_response(
        {"stations": [station_json(s, assigned.image_for(s), presence, now) for s in await registry.stations.all()]}
    )


@routes.get("/v1/stations/{mac}")
async def show_station(request: web.Request) -> web.Response:
    """One station."""
    station = await request.app[REGISTRY].stations.require(parse_mac(request.match_info["mac"]))
    return await _station_answer(request, station)


@routes.delete("/v1/stations/{mac}")
async def delete_station(request: web.Request) -> web.Response:
    """Delete a station with everything that hangs off it; answers the station as it was."""
    station = await request.app[ADMINISTRATION].delete(request.match_info["mac"])
    return web.json_response(station_json(station, None))


@routes.get("/v1/stations/{mac}/checkins")
async def checkins(request: web.Request) -> web.Response:
    """A station's check-in history, newest first."""
    registry = request.app[REGISTRY]
    station = await registry.stations.require(parse_mac(request.match_info["mac"]))
    limit = _int_query(request, "limit", 500, 1, 10_000)
    return web.json_response({"checkins": await registry.history.checkins(station.mac, limit)})


@routes.post("/v1/stations/{mac}/rename")
async def rename(request: web.Request) -> web.Response:
    """Rename a station."""
    body = json_object(await json_body(request))
    station = await request.app[ADMINISTRATION].rename(request.match_info["mac"], body.get("name"))
    return await _station_answer(request, station)


@routes.post("/v1/stations/{mac}/tags")
async def tags(request: web.Request) -> web.Response:
    """Add and remove tags."""
    body = json_object(await json_body(request))
    station = await request.app[ADMINISTRATION].tag(
        request.match_info["mac"], body.get("add", []), body.get("remove", [])
    )
    return await _station_answer(request, station)


@routes.post("/v1/stations/{mac}/chip")
async def set_chip(request: web.Request) -> web.Response:
    """Say which chip a station is (an ESP32-family update client does not tell the model)."""
    body = json_object(await json_body(request))
    station = await request.app[ADMINISTRATION].set_chip(request.match_info["mac"], body.get("chip"))
    return await _station_answer(request, station)


@routes.put("/v1/stations/{mac}/settings")
async def settings(request: web.Request) -> web.Response:
    """Replace a station's settings object."""
    body = await json_body(request)
    station = await request.app[ADMINISTRATION].set_settings(request.match_info["mac"], body)
    return await _station_answer(request, station)


async def _set_status(request: web.Request, status: StatusChange) -> web.Response:
    station = await request.app[ADMINISTRATION].set_status(request.match_info["mac"], status)
    return await _station_answer(request, station)


@routes.post("/v1/stations/{mac}/accept")
async def accept(request: web.Request) -> web.Response:
    """Accept a station: it receives a token at its next check-in."""
    return await _set_status(request, "accepted")


@routes.post("/v1/stations/{mac}/reject")
async def reject(request: web.Request) -> web.Response:
    """Reject a station: it is refused from now on."""
    return await _set_status(request, "rejected")


@routes.post("/v1/stations/{mac}/retire")
async def retire(request: web.Request) -> web.Response:
    """Retire a station: out of service, history kept."""
    return await _set_status(request, "retired")


@routes.get("/v1/firmware")
async def list_images(request: web.Request) -> web.Response:
    """Every image."""
    return web.json_response({"images": [image_json(i) for i in await request.app[REGISTRY].images.all()]})


@routes.post("/v1/firmware")
async def import_image(request: web.Request) -> web.Response:
    """Import the uploaded bytes as an image."""
    data = await read_body(request)
    if not data:
        raise InvalidInput("the body must be the image file's bytes")
    image, new = await request.app[LIBRARY].import_image(
        data,
        request.headers.get("X-Filename", "image.bin"),
        project=request.headers.get("X-Firmware-Project"),
        version=request.headers.get("X-Firmware-Version"),
    )
    return web.json_response(image_json(image), status=201 if new else 200)


@routes.get("/v1/firmware/{prefix}")
async def show_image(request: web.Request) -> web.Response:
    """One image by SHA-256 prefix."""
    return web.json_response(image_json(await request.app[REGISTRY].images.by_prefix(request.match_info["prefix"])))


@routes.delete("/v1/firmware/{prefix}")
async def delete_image(request: web.Request) -> web.Response:
    """Delete an unused image."""
    await request.app[LIBRARY].delete(request.match_info["prefix"])
    return web.Response(status=204)


@routes.get("/v1/assignments")
async def list_assignments(request: web.Request) -> web.Response:
    """Every assignment."""
    found = await request.app[REGISTRY].images.assignments()
    return web.json_response({"assignments": [assignment_json(a) for a in found]})


@routes.post("/v1/assignments")
async def assign(request: web.Request) -> web.Response:
    """Assign an image to a station or a tag."""
    body = json_object(await json_body(request))
    assignment = await request.app[ADMINISTRATION].assign(
        body.get("image"), station=body.get("station"), tag=body.get("tag")
    )
    return web.json_response(assignment_json(assignment), status=201)


@routes.delete("/v1/assignments/{id}")
async def unassign(request: web.Request) -> web.Response:
    """Remove an assignment."""
    assignment_id = parse_whole_number(request.match_info["id"], "an assignment id", 1)
    await request.app[ADMINISTRATION].unassign(assignment_id)
    return web.Response(status=204)


@routes.get("/v1/events")
async def events(request: web.Request) -> web.Response:
    """Stored events, newest first."""
    mac = request.query.get("mac")
    found = await request.app[REGISTRY].history.events(
        mac=None if mac is None else parse_mac(mac),
        kind=request.query.get("kind"),
        limit=_int_query(request, "limit", 100, 1, 10_000),
        before=_int_query(request, "before", 2**62, 1, 2**62),
    )
    return web.json_response({"events": [event_json(e) for e in found]})


async def _station_answer(request: web.Request, station: Station) -> web.Response:
    assigned = await request.app[REGISTRY].images.assigned_for(station)
    now = request.app[CLOCK].timeline()
    return web.json_response(station_json(station, assigned, _presence(request), now))


def _presence(request: web.Request) -> Presence:
    info = request.app[INFO]
    return Presence(info.poll_interval_s, info.offline_after_missed)


def _int_query(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    return parse_whole_number(raw, f"query parameter {name!r}", low, high)
