"""Admin routes of the site's Wi-Fi: networks with their passphrases masked, reveal on request, rotation."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.adapters.admin_api.keys import SITE_WIFI
from services.adapters.http_errors import json_body
from services.core.bodies import json_object
from services.core.errors import InvalidInput
from services.core.models import SiteNetwork
from services.domain.sitewifi import RotationStatus

routes = web.RouteTableDef()


@routes.get("/v1/wifi")
async def networks(request: web.Request) -> web.Response:
    """The site's networks, passphrases masked."""
    return web.json_response({"networks": [network_json(n) for n in await request.app[SITE_WIFI].networks()]})


@routes.post("/v1/wifi")
async def add(request: web.Request) -> web.Response:
    """Add a network: every accepted station's config gains it."""
    body = json_object(await json_body(request))
    added = await request.app[SITE_WIFI].add(
        body.get("ssid"),
        body.get("psk"),
        priority=body.get("priority", 0),
        hidden=body.get("hidden", False),
        fallback=body.get("fallback", False),
    )
    return web.json_response(network_json(added), status=201)


@routes.delete("/v1/wifi")
async def remove(request: web.Request) -> web.Response:
    """Drop a network (`?ssid=`), refused with who is not ready unless `override=1`."""
    override = request.query.get("override", "0")
    if override not in ("0", "1"):
        raise InvalidInput("query parameter 'override' is 0 or 1")
    if "ssid" not in request.query:
        raise InvalidInput("query parameter 'ssid' names the network to drop")
    removed, short = await request.app[SITE_WIFI].remove(request.query["ssid"], override=override == "1")
    return web.json_response({"removed": network_json(removed), "not_ready": list(short)})


@routes.post("/v1/wifi/reveal")
async def reveal(request: web.Request) -> web.Response:
    """One network's passphrase, for the admin who asked (the asking is an event)."""
    network = await request.app[SITE_WIFI].reveal(json_object(await json_body(request)).get("ssid"))
    return web.json_response({"ssid": network.ssid, "psk": network.psk}, headers={"Cache-Control": "no-store"})


@routes.get("/v1/wifi/rotation")
async def rotation(request: web.Request) -> web.Response:
    """Every accepted and awaited station's standing towards the site's networks."""
    return web.json_response(rotation_json(await request.app[SITE_WIFI].status()))


def network_json(network: SiteNetwork) -> dict[str, Any]:
    """A network for the admin's eyes: everything but the passphrase."""
    return {
        "id": network.id,
        "ssid": network.ssid,
        "priority": network.priority,
        "hidden": network.hidden,
        "fallback": network.fallback,
        "open": network.psk == "",
        "added_at": network.added_at,
    }


def rotation_json(status: RotationStatus) -> dict[str, Any]:
    """The rotation: per station what it holds and lacks, per network who stops it being dropped."""
    current = status.current
    return {
        "complete": status.complete,
        "networks": [
            {
                **network_json(n),
                "blocked_by": [s.name for s in status.blocking_removal(n.id)],
                "last": len(current) == 1,
            }
            for n in status.networks
        ],
        "stations": [
            {
                "mac": s.mac,
                "name": s.name,
                "state": s.state,
                "last_seen_at": s.last_seen_at,
                "holds": status.ssids(i for i in s.holds if i in current),
                "lacks": status.ssids(s.lacks(current)),
                "fetched": status.ssids(i for i in s.fetched if i in current),
                "reports_config_etag": s.reports_etag,
            }
            for s in status.stations
        ],
        "behind": [s.name for s in status.behind],
    }
