"""Admin routes of onboarding: bench bundles (make, list, cancel); pending claims use the station routes."""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

from services.adapters.admin_api.keys import BENCH, PROVISIONING, REGISTRY
from services.adapters.admin_api.reach import appliance_reach
from services.adapters.http_errors import json_body
from services.core.bodies import json_object
from services.core.errors import InvalidInput
from services.core.models import Provision, SiteNetwork
from services.domain.onboarding.bundle import Bundle
from services.domain.onboarding.flashmap import DEFAULT_APP_OFFSET, DEFAULT_NVS_OFFSET, DEFAULT_NVS_SIZE, FlashLayout

routes = web.RouteTableDef()


@routes.post("/v1/onboarding/bundles")
async def make_bundle(request: web.Request) -> web.Response:
    """Provision a station and answer its bench bundle's files (the NVS image holds its token)."""
    body = json_object(await json_body(request))
    layout = FlashLayout(
        nvs_offset=_offset(body, "nvs_offset", DEFAULT_NVS_OFFSET),
        nvs_size=_offset(body, "nvs_size", DEFAULT_NVS_SIZE),
        app_offset=_offset(body, "app_offset", DEFAULT_APP_OFFSET),
    )
    made = await request.app[BENCH].make(
        body.get("name"),
        body.get("chip"),
        reach=appliance_reach(request.app, body.get("address")),
        mac=body.get("mac"),
        firmware=body.get("firmware"),
        layout=layout,
        replace=_flag(body, "replace"),
    )
    networks = await request.app[REGISTRY].wifi.all()
    answer = {"provision": provision_json(made.provisioned.provision, networks), **bundle_json(made.bundle)}
    return web.json_response(answer, status=201, headers={"Cache-Control": "no-store"})


@routes.get("/v1/onboarding/bundles")
async def list_provisions(request: web.Request) -> web.Response:
    """Stations awaiting their arrival, and the latest provisions of every state."""
    registry = request.app[REGISTRY]
    networks = await registry.wifi.all()
    return web.json_response(
        {
            "awaiting": [provision_json(p, networks) for p in await registry.provisions.awaiting()],
            "recent": [provision_json(p, networks) for p in await registry.provisions.recent()],
        }
    )


@routes.delete("/v1/onboarding/bundles/{name}")
async def cancel(request: web.Request) -> web.Response:
    """Cancel the awaiting provision of a name: its token stops working."""
    cancelled = await request.app[PROVISIONING].cancel(request.match_info["name"])
    return web.json_response(provision_json(cancelled, await request.app[REGISTRY].wifi.all()))


def provision_json(provision: Provision, networks: list[SiteNetwork]) -> dict[str, Any]:
    """A provision for the admin: no token, and its networks by SSID (those still on the site)."""
    ssids = {n.id: n.ssid for n in networks}
    state = "awaiting" if provision.awaiting else ("arrived" if provision.arrived_at is not None else "cancelled")
    return {
        "id": provision.id,
        "name": provision.name,
        "chip": provision.chip,
        "mac": provision.mac,
        "road": provision.road,
        "state": state,
        "networks": [ssids[i] for i in provision.wifi if i in ssids],
        "firmware": provision.firmware,
        "created_at": provision.created_at,
        "arrived_at": provision.arrived_at,
        "cancelled_at": provision.cancelled_at,
    }


def bundle_json(bundle: Bundle) -> dict[str, Any]:
    """The bundle's files (base64) and its esptool command."""
    return {
        "files": [
            {
                "name": f.name,
                "offset": f.offset,
                "size": len(f.data),
                "sha256": f.sha256,
                "mode": f.mode,
                "content": base64.b64encode(f.data).decode("ascii"),
            }
            for f in bundle.files
        ],
        "flashed": bundle.flashed.name,
        "command": list(bundle.command),
        "command_line": bundle.command_line,
    }


def _offset(body: dict[str, Any], key: str, default: int) -> int:
    value = body.get(key, default)
    if isinstance(value, str):
        try:
            value = int(value, 0)
        except ValueError:
            raise InvalidInput(f"{key!r} must be a number such as 0x9000") from None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise InvalidInput(f"{key!r} must be a number such as 0x9000")
    return value


def _flag(body: dict[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise InvalidInput(f"{key!r} must be true or false")
    return value
