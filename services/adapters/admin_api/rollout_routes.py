"""Admin API for rollouts: start one, watch it wave by wave and station by station, steer it."""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web

from services.adapters.admin_api.keys import REGISTRY
from services.adapters.http_errors import json_body
from services.core.bodies import json_object
from services.core.errors import InvalidInput
from services.core.rollout_model import Rollout, RolloutStation
from services.domain.rollouts.actions import RolloutActions
from services.domain.rollouts.gates import CRITICAL_TAG

ROLLOUTS = web.AppKey("rollouts", RolloutActions)
# The state of the rollout's current wave, by the rollout's state (running and paused say themselves).
_CURRENT_WAVE = {
    "halted": "failed",
    "completed": "passed",
    "rolling_back": "rolling back",
    "rolled_back": "rolled back",
}
routes = web.RouteTableDef()


@routes.get("/v1/rollouts")
async def list_rollouts(request: web.Request) -> web.Response:
    """Every rollout, newest first, with its counts (no station list)."""
    registry = request.app[REGISTRY]
    found = await registry.rollouts.all()
    counts = await registry.rollouts.counts(r.id for r in found)
    images = {i.sha256: i for i in await registry.images.all()}
    return web.json_response({"rollouts": [_summary(r, counts.get(r.id, {}), images.get(r.sha256)) for r in found]})


@routes.post("/v1/rollouts")
async def start(request: web.Request) -> web.Response:
    """Start a rollout."""
    rollout = await request.app[ROLLOUTS].start(json_object(await json_body(request)))
    return await _answer(request, rollout, status=201)


@routes.post("/v1/rollouts/plan")
async def plan(request: web.Request) -> web.Response:
    """What starting this rollout would do (its stations, wave by wave, and its settings), without starting it."""
    found = await request.app[ROLLOUTS].plan(json_object(await json_body(request)))
    waves, position = [], 0
    for size in found.sizes:
        members = found.ordered[position : position + size]
        waves.append({"size": size, "stations": [s.name for s in members]})
        position += size
    image = found.image
    return web.json_response(
        {
            "name": found.name,
            "image": {"sha256": image.sha256, "version": image.version, "project": image.project, "chip": image.chip},
            "target": found.target,
            "stations": len(found.ordered),
            "critical": sum(CRITICAL_TAG in s.tags for s in found.ordered),
            "waves": waves,
            "settings": dataclasses.asdict(found.settings),
        }
    )


@routes.get("/v1/rollouts/{id}")
async def show(request: web.Request) -> web.Response:
    """One rollout with its waves and every station's state and reason."""
    return await _answer(request, await request.app[REGISTRY].rollouts.require(_id(request)))


@routes.post("/v1/rollouts/{id}/pause")
async def pause(request: web.Request) -> web.Response:
    """Offer the image to no one new."""
    return await _answer(request, await request.app[ROLLOUTS].pause(_id(request)))


@routes.post("/v1/rollouts/{id}/resume")
async def resume(request: web.Request) -> web.Response:
    """Carry on after a pause or a halt."""
    return await _answer(request, await request.app[ROLLOUTS].resume(_id(request)))


@routes.post("/v1/rollouts/{id}/cancel")
async def cancel(request: web.Request) -> web.Response:
    """End the rollout where it is."""
    return await _answer(request, await request.app[ROLLOUTS].cancel(_id(request)))


@routes.post("/v1/rollouts/{id}/rollback")
async def rollback(request: web.Request) -> web.Response:
    """Offer the stations it moved their previous image."""
    return await _answer(request, await request.app[ROLLOUTS].rollback(_id(request)))


@routes.post("/v1/rollouts/{id}/approve")
async def approve(request: web.Request) -> web.Response:
    """Let critical stations be updated."""
    body = json_object(await json_body(request))
    return await _answer(request, await request.app[ROLLOUTS].approve(_id(request), body))


async def _answer(request: web.Request, rollout: Rollout, status: int = 200) -> web.Response:
    registry = request.app[REGISTRY]
    rows = await registry.rollouts.stations(rollout.id)
    names = {s.mac: s for s in await registry.stations.all()}
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.state] = counts.get(row.state, 0) + 1
    body = _summary(rollout, counts, await registry.images.get(rollout.sha256))
    body["waves"] = _waves(rollout, rows)
    body["stations"] = [_station(row, names.get(row.mac)) for row in rows]
    return web.json_response(body, status=status)


def _summary(rollout: Rollout, counts: dict[str, int], image: Any) -> dict[str, Any]:
    return {
        "id": rollout.id,
        "name": rollout.name,
        "state": rollout.state,
        "reason": rollout.reason,
        "image": {
            "sha256": rollout.sha256,
            "version": getattr(image, "version", None),
            "project": getattr(image, "project", None),
            "chip": getattr(image, "chip", None),
        },
        "target": rollout.target,
        "wave_plan": list(rollout.waves),
        "current_wave": rollout.current_wave + 1,
        "wave_count": rollout.wave_count,
        "settings": dataclasses.asdict(rollout.settings),
        "created_at": rollout.created_at,
        "paused_at": rollout.paused_at,
        "finished_at": rollout.finished_at,
        "counts": counts,
    }


def _waves(rollout: Rollout, rows: list[RolloutStation]) -> list[dict[str, Any]]:
    waves = []
    for index in range(rollout.wave_count):
        members = [r for r in rows if r.wave == index]
        counts: dict[str, int] = {}
        for row in members:
            counts[row.state] = counts.get(row.state, 0) + 1
        waves.append({"wave": index + 1, "size": len(members), "state": _wave_state(rollout, index), "counts": counts})
    return waves


def _wave_state(rollout: Rollout, index: int) -> str:
    if index < rollout.current_wave:
        return "passed"
    if index > rollout.current_wave:
        return "pending" if rollout.active else "not reached"
    return _CURRENT_WAVE.get(rollout.state, rollout.state)


def _station(row: RolloutStation, station: Any) -> dict[str, Any]:
    body = dataclasses.asdict(row)
    body["wave"] = row.wave + 1
    body["name"] = getattr(station, "name", row.mac)
    body["version"] = getattr(station, "version", None)
    body["tags"] = list(getattr(station, "tags", ()))
    del body["rollout_id"], body["position"]
    return body


def _id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise InvalidInput("a rollout id is a whole number")
    return int(raw)
