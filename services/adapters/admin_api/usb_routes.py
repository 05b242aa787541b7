"""Admin API for on-site USB onboarding: the ports plugged into the appliance, and flashing or Improv on one."""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web

from services.adapters.admin_api.keys import REGISTRY
from services.adapters.admin_api.reach import appliance_reach
from services.adapters.http_errors import json_body
from services.adapters.improv import state_words
from services.adapters.usb import UsbOnboarding, UsbPort
from services.core.bodies import json_object
from services.core.errors import Conflict, InvalidInput

USB = web.AppKey("usb", UsbOnboarding)
routes = web.RouteTableDef()


@routes.get("/v1/usb/ports")
async def ports(request: web.Request) -> web.Response:
    """Every serial port plugged in (and those a job failed on), with what answered on it."""
    usb = _usb(request)
    await usb.rescan()  # what the admin asks about is what is plugged in now, not a second ago
    return web.json_response({"ports": [await _port_json(request, p) for p in usb.ports()]})


@routes.post("/v1/usb/identify")
async def identify(request: web.Request) -> web.Response:
    """Ask again what is on a port; answers at once, the outcome follows on the event stream."""
    body = json_object(await json_body(request))
    port = _usb(request).identify(body.get("port"))
    return web.json_response(await _port_json(request, port), status=202)


@routes.post("/v1/usb/flash")
async def flash(request: web.Request) -> web.Response:
    """Flash firmware and a new station's config onto the chip on a port; progress follows on the stream."""
    body = json_object(await json_body(request))
    replace = body.get("replace", False)
    if not isinstance(replace, bool):
        raise InvalidInput("'replace' must be true or false")
    reach = appliance_reach(request.app)
    port = await _usb(request).flash(
        body.get("port"), body.get("name"), body.get("firmware"), reach=reach, replace=replace
    )
    return web.json_response(await _port_json(request, port), status=202)


@routes.post("/v1/usb/wifi")
async def wifi(request: web.Request) -> web.Response:
    """Hand a site network to the Improv station on a port; the outcome follows on the stream."""
    body = json_object(await json_body(request))
    port = await _usb(request).send_wifi(body.get("port"), body.get("ssid"))
    return web.json_response(await _port_json(request, port), status=202)


@routes.get("/v1/usb/ports/{name}")
async def show_port(request: web.Request) -> web.Response:
    """One port, by name (ttyUSB0) or URL-quoted path."""
    return web.json_response(await _port_json(request, _usb(request).board.find(request.match_info["name"])))


async def _port_json(request: web.Request, port: UsbPort) -> dict[str, Any]:
    body = dataclasses.asdict(port)
    body["busy"] = port.busy
    body["improv"] = None if port.improv_state is None else state_words(port.improv_state)
    station = None
    if port.mac is not None:
        found = await request.app[REGISTRY].stations.get(port.mac)
        if found is not None:
            station = {"mac": found.mac, "name": found.name, "status": found.status, "last_seen_at": found.last_seen_at}
    body["station"] = station
    return body


def _usb(request: web.Request) -> UsbOnboarding:
    usb = request.app.get(USB)
    if usb is None:
        raise Conflict("USB onboarding is off on this appliance: set [usb] ports in its configuration")
    return usb
