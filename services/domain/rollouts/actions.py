"""What the admin does to rollouts: start, pause, resume, cancel, roll back, approve critical stations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiosqlite

from services.core.errors import Conflict, InvalidInput
from services.core.macaddr import parse_mac
from services.core.models import FirmwareImage
from services.core.rollout_model import (
    ACTIVE_ROLLOUT_STATES,
    IN_FLIGHT,
    Rollout,
    RolloutSettings,
    RolloutStation,
    StationFacts,
)
from services.domain.rollouts.engine import RolloutEngine
from services.domain.rollouts.gates import CRITICAL_TAG
from services.domain.rollouts.plan import (
    WaveSpec,
    parse_name,
    parse_settings,
    parse_target,
    parse_waves,
    wave_order,
    wave_sizes,
)
from services.domain.rollouts.progress import name_in, pin
from services.domain.rollouts.rollback import plan_rollback
from services.domain.rollouts.targets import choose, facts_of, previous_image
from services.store.journal import EventLog, Journal
from services.store.registry.rollouts import (
    insert_rollout,
    insert_station,
    release,
    rollout_in,
    stations_in,
    update_rollout,
    update_station,
)


@dataclass(frozen=True, slots=True)
class RolloutPlan:
    """A rollout as `start` would make it: its image, settings, and its stations in wave order."""

    image: FirmwareImage
    target: dict[str, Any]
    waves: tuple[WaveSpec, ...]
    settings: RolloutSettings
    name: str
    ordered: tuple[StationFacts, ...]
    sizes: tuple[int, ...]
    previous: dict[str, str | None]
    versions: dict[str, str | None]


# A finished rollout can still be rolled back (a fault that shows after a week); a cancelled one cannot.
_ROLLBACK_FROM = ("running", "paused", "halted", "completed", "rolled_back")


class RolloutActions:
    """The admin side of rollouts; each action is one transaction with its event."""

    def __init__(self, journal: Journal, engine: RolloutEngine, defaults: RolloutSettings) -> None:
        self._journal = journal
        self._registry = journal.registry
        self._engine = engine
        self.defaults = defaults

    async def plan(self, body: Mapping[str, Any]) -> RolloutPlan:
        """What `start` would do with this body, without starting: refuse what cannot be done, saying why."""
        prefix = body.get("image")
        if not isinstance(prefix, str):
            raise InvalidInput("'image' must be a SHA-256 prefix")
        image = await self._registry.images.by_prefix(prefix)
        if not image.version:
            raise InvalidInput(
                f"image {image.sha256[:12]} does not say its version: import it again with its version"
                " (--version) so that the appliance can tell when a station runs it"
            )
        target = parse_target(body.get("target", {"all": True}))
        waves = parse_waves(body.get("waves"))
        settings = parse_settings(body, self.defaults)
        name = parse_name(body.get("name"), f"{image.project or image.chip} {image.version}")
        chosen = await choose(self._registry, image, target)
        facts = [await facts_of(self._registry, station, self._journal.clock()) for station in chosen]
        ordered = wave_order(facts)
        return RolloutPlan(
            image=image,
            target=target,
            waves=waves,
            settings=settings,
            name=name,
            ordered=tuple(ordered),
            sizes=tuple(wave_sizes(waves, len(ordered))),
            previous={s.mac: await previous_image(self._registry, s) for s in chosen},
            versions={s.mac: s.version for s in chosen},
        )

    async def start(self, body: Mapping[str, Any]) -> Rollout:
        """Plan and start a rollout of an image to its target, in waves; refuse what cannot be done, saying why."""
        plan = await self.plan(body)
        image, name, ordered, sizes = plan.image, plan.name, plan.ordered, plan.sizes

        async def op(log: EventLog) -> int:
            rollout_id = await insert_rollout(
                log.conn,
                name=name,
                sha256=image.sha256,
                target=plan.target,
                waves=plan.waves,
                wave_count=len(sizes),
                settings=plan.settings,
                now=log.now,
            )
            position = 0
            for wave, size in enumerate(sizes):
                for station in ordered[position : position + size]:
                    await insert_station(
                        log.conn,
                        RolloutStation(
                            rollout_id=rollout_id,
                            mac=station.mac,
                            wave=wave,
                            position=position,
                            state="queued",
                            critical=CRITICAL_TAG in station.tags,
                            previous_sha256=plan.previous[station.mac],
                            previous_version=plan.versions[station.mac],
                        ),
                    )
                    position += 1
            sizes_text = " + ".join(str(size) for size in sizes)
            await log(
                "rollout_started",
                None,
                f"rollout {rollout_id} ({name}): {image.version} to {len(ordered)} {image.chip} station(s)"
                f" in {len(sizes)} wave(s) ({sizes_text})",
                rollout=rollout_id,
                sha256=image.sha256,
                stations=len(ordered),
                waves=list(sizes),
            )
            return rollout_id

        rollout_id = await self._journal.write(op)
        await self._engine.settle()
        return await self._registry.rollouts.require(rollout_id)

    async def pause(self, rollout_id: int) -> Rollout:
        """Offer the image to no one new until resumed (downloads under way finish; time-outs wait)."""

        async def op(log: EventLog, rollout: Rollout) -> None:
            _require_state(rollout, ("running",), "pause")
            await update_rollout(log.conn, rollout.id, state="paused", paused_at=log.now)
            await log("rollout_paused", None, f"rollout {rollout.id} ({rollout.name}) paused", rollout=rollout.id)

        return await self._change(rollout_id, op)

    async def resume(self, rollout_id: int) -> Rollout:
        """Carry on after a pause, or after a halt (which accepts the failures of the halted wave)."""

        async def op(log: EventLog, rollout: Rollout) -> None:
            _require_state(rollout, ("paused", "halted"), "resume")
            if rollout.state == "paused":
                # The time paused is not the stations' to lose: every open deadline moves on by as much.
                pause = log.now - (rollout.paused_at or log.now)
                for row in await stations_in(log.conn, rollout.id):
                    if row.state in IN_FLIGHT and row.deadline_at is not None:
                        await update_station(log.conn, rollout.id, row.mac, deadline_at=row.deadline_at + pause)
                await update_rollout(log.conn, rollout.id, state="running", paused_at=None)
                message = f"rollout {rollout.id} ({rollout.name}) resumed"
            else:
                await update_rollout(
                    log.conn, rollout.id, state="running", tolerated_wave=rollout.current_wave, reason=None
                )
                message = (
                    f"rollout {rollout.id} ({rollout.name}) resumed by the admin despite the failures"
                    f" of wave {rollout.current_wave + 1}"
                )
            await log("rollout_resumed", None, message, rollout=rollout.id)

        return await self._change(rollout_id, op)

    async def cancel(self, rollout_id: int) -> Rollout:
        """End the rollout: no more offers; stations keep what they run, those it updated stay on the new image.

        A station seen running the image it was moved to (soaking it) is assigned that image itself, as one
        that passed its soak is: released to its old assignments, it would be sent straight back.
        """

        async def op(log: EventLog, rollout: Rollout) -> None:
            _require_state(rollout, ACTIVE_ROLLOUT_STATES, "cancel")
            for row in await stations_in(log.conn, rollout.id):
                if row.state in IN_FLIGHT:
                    was = row.state.replace("_", " ")
                    await update_station(
                        log.conn, rollout.id, row.mac, reason=f"the rollout was cancelled while it was {was}"
                    )
                if row.state == "updating":
                    runs = rollout.sha256 if row.direction == "forward" else row.previous_sha256
                    if runs is not None:
                        await pin(log, row.mac, runs)
            await update_rollout(log.conn, rollout.id, state="cancelled", finished_at=log.now, reason="cancelled")
            await release(log.conn, rollout.id)
            await log("rollout_cancelled", None, f"rollout {rollout.id} ({rollout.name}) cancelled", rollout=rollout.id)

        return await self._change(rollout_id, op)

    async def rollback(self, rollout_id: int) -> Rollout:
        """Offer each station the rollout moved its previous image again; the rest it holds no more."""
        rollout = await self._registry.rollouts.require(rollout_id)
        _require_state(rollout, _ROLLBACK_FROM, "roll back")
        rows = await self._registry.rollouts.stations(rollout_id)
        stations = {s.mac: s for s in await self._registry.stations.all()}
        found: dict[str, str | None] = {}
        for row in rows:
            station = stations.get(row.mac)
            if row.previous_sha256 is None and station is not None and row.previous_version and station.chip:
                found[row.mac] = await self._registry.rollouts.image_for_version(
                    station.chip, station.project, row.previous_version
                )

        async def op(log: EventLog, current: Rollout) -> None:
            _require_state(current, _ROLLBACK_FROM, "roll back")
            plan = plan_rollback(await stations_in(log.conn, current.id), stations, found, current.settings, log.now)
            for mac, changes in plan.items():
                if current.state in ("completed", "rolled_back") and changes.get("direction") == "back":
                    await _reclaim(log, current.id, mac)
                await update_station(log.conn, current.id, mac, **changes)
            back = sum(changes.get("direction") == "back" for changes in plan.values())
            await update_rollout(
                log.conn,
                current.id,
                state="rolling_back",
                finished_at=None,
                paused_at=None,
                reason=f"rolling back {back} station(s)",
            )
            await log(
                "rollout_rollback_started",
                None,
                f"rollout {current.id} ({current.name}): rolling back {back} station(s) to their previous image",
                rollout=current.id,
                stations=back,
            )

        return await self._change(rollout_id, op)

    async def approve(self, rollout_id: int, body: Mapping[str, Any]) -> Rollout:
        """Let critical stations of the rollout be updated (a list of MACs, or {"all": true})."""
        everyone = body.get("all") is True
        macs = body.get("stations")
        if everyone:
            wanted: set[str] = set()
        elif isinstance(macs, list) and macs:
            wanted = {parse_mac(m) for m in macs}
        else:
            raise InvalidInput('give {"stations": ["MAC", ...]} or {"all": true}')

        async def op(log: EventLog, rollout: Rollout) -> None:
            _require_state(rollout, ACTIVE_ROLLOUT_STATES, "approve stations of")
            rows = await stations_in(log.conn, rollout.id)
            held = {r.mac for r in rows}
            missing = wanted - held
            if missing:
                raise InvalidInput(f"not in rollout {rollout.id}: {', '.join(sorted(missing))}")
            chosen = [r for r in rows if (r.critical if everyone else r.mac in wanted) and not r.approved]
            for row in chosen:
                await update_station(log.conn, rollout.id, row.mac, approved=1)
                await log(
                    "rollout_approved",
                    row.mac,
                    f"rollout {rollout.id}: the admin approved updating {await name_in(log, row.mac)}",
                    rollout=rollout.id,
                )

        return await self._change(rollout_id, op)

    async def _change(self, rollout_id: int, change: Any) -> Rollout:
        async def op(log: EventLog) -> None:
            await change(log, await rollout_in(log.conn, rollout_id))

        await self._journal.write(op)
        await self._engine.settle()
        return await self._registry.rollouts.require(rollout_id)


async def _reclaim(log: EventLog, rollout_id: int, mac: str) -> None:
    """A finished rollout holds nothing; rolling it back holds the station again, if no other rollout does."""
    try:
        await update_station(log.conn, rollout_id, mac, active=1)
    except aiosqlite.IntegrityError as exc:  # the unique index: another unfinished rollout holds it
        raise Conflict(f"station {mac} is in another unfinished rollout; finish or cancel that one first") from exc


def _require_state(rollout: Rollout, allowed: tuple[str, ...], verb: str) -> None:
    if rollout.state not in allowed:
        state = rollout.state.replace("_", " ")
        raise Conflict(f"rollout {rollout.id} is {state}: cannot {verb} it")
