"""The rollout's clock work: time-outs judged, waves passed or failed, the next wave started, the end noticed."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.contract.events import EventKind
from services.core.rollout_model import ERRORS, IN_FLIGHT, Rollout, RolloutStation
from services.domain.rollouts.evidence import Step, Transfer, at_deadline
from services.domain.rollouts.gates import hold_reason
from services.domain.rollouts.progress import facts_in, name_in, record
from services.store.journal import EventLog
from services.store.registry.rollouts import (
    fetch,
    release,
    rollout_in,
    stations_in,
    transfers_in,
    update_rollout,
    update_station,
)

# Rollouts re-check held stations at least this often (a maintenance window opens, a signal recovers).
RECHECK_S = 30.0


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """What a rollout needs to know of an image."""

    sha256: str
    version: str | None
    project: str | None
    size: int


async def image_in(log: EventLog, sha256: str | None) -> ImageFacts | None:
    """The image's version and size, or None if it is not in the library."""
    if sha256 is None:
        return None
    rows = await fetch(log.conn, "SELECT sha256, version, project, size FROM images WHERE sha256 = ?", (sha256,))
    return ImageFacts(**rows[0]) if rows else None


async def advance(log: EventLog, rollout: Rollout) -> bool:
    """Move one rollout on as far as the facts allow; return True if it finished."""
    if rollout.state in ("running", "halted", "rolling_back"):
        await judge_deadlines(log, rollout)
    if rollout.state == "rolling_back":
        return await _finish_rollback(log, rollout)
    if rollout.state == "running":
        return await _run_waves(log, rollout)
    return False


async def judge_deadlines(log: EventLog, rollout: Rollout) -> None:
    """Give each station whose time ran out its verdict, from the transfer log and its last check-in."""
    for row in await stations_in(log.conn, rollout.id):
        if row.state not in IN_FLIGHT or row.deadline_at is None or row.deadline_at > log.now:
            continue
        if row.hold is not None and row.direction == "back":
            continue  # a rollback held by the station's link waits for it
        sha256 = rollout.sha256 if row.direction == "forward" else row.previous_sha256
        image = await image_in(log, sha256)
        facts = await facts_in(log, row.mac)
        since = row.initiated_at or 0.0
        transfers = [Transfer(**t) for t in await transfers_in(log.conn, row.mac, sha256 or "", since)]
        step = at_deadline(
            row,
            transfers=transfers,
            size=image.size if image else 0,
            last_seen_at=facts.last_seen_at if facts else None,
            version=facts.version if facts else None,
            target=_target_version(row, image),
            now=log.now,
        )
        await record(log, rollout, row, step)


async def initiate(log: EventLog, rollout: Rollout, row: RolloutStation, image: ImageFacts) -> None:
    """Offer the image to a queued station if the delivery rules let it have it now; else note why not."""
    facts = await facts_in(log, row.mac)
    if facts is None:
        return
    if facts.version == image.version and (facts.project in (None, image.project) or image.project is None):
        step = Step("updated", "already_ran", f"already ran {image.version}", {"finished_at": log.now})
        await record(log, rollout, row, step)
        return
    hold = hold_reason(facts, rollout.settings, approved=row.approved, now=log.now)
    if hold is not None:
        await note_hold(log, rollout, row, hold)
        return
    changes = {"initiated_at": log.now, "deadline_at": log.now + rollout.settings.timeout_s, "hold": None}
    await record(log, rollout, row, Step("initiated", None, "offered the image at its next poll", changes))


async def note_hold(log: EventLog, rollout: Rollout, row: RolloutStation, hold: str) -> str:
    """Record why a station is held back and return the reason in force.

    Only a new kind of reason is written (and told): a signal that wavers by a dB must not write to the SD
    card at every poll.
    """
    if row.hold is not None and row.hold.split(":")[0] == hold.split(":")[0]:
        return row.hold
    await update_station(log.conn, rollout.id, row.mac, hold=hold)
    name = await name_in(log, row.mac)
    await log(
        "rollout_station",
        row.mac,
        f"rollout {rollout.id}: {name} held back: {hold}",
        rollout=rollout.id,
        wave=row.wave + 1,
        state=row.state,
        hold=hold,
        reason=row.reason,
    )
    return hold


async def _run_waves(log: EventLog, rollout: Rollout) -> bool:
    image = await image_in(log, rollout.sha256)
    if image is None:
        await _halt(log, rollout, "its image is no longer in the library", [])
        return False
    while True:
        rows = await stations_in(log.conn, rollout.id)
        wave = rollout.current_wave
        in_wave = [r for r in rows if r.wave == wave]
        errors = [r for r in in_wave if r.state in ERRORS]
        limit = rollout.settings.max_failures_percent
        if wave > rollout.tolerated_wave and errors and len(errors) * 100 > limit * len(in_wave):
            share = 100 * len(errors) / len(in_wave)
            why = f"{len(errors)} of {len(in_wave)} stations ({share:.0f} %) failed, more than the {limit:g} % allowed"
            await _halt(log, rollout, f"wave {wave + 1} failed: {why}", errors)
            return False
        for row in in_wave:
            if row.state == "queued":
                await initiate(log, rollout, row, image)
        rows = await stations_in(log.conn, rollout.id)
        in_wave = [r for r in rows if r.wave == wave]
        if any(r.state in IN_FLIGHT for r in in_wave):
            return False
        held = [r for r in in_wave if r.state == "queued"]
        updated = sum(r.state == "updated" for r in in_wave)
        if held and (updated == 0 or wave == rollout.wave_count - 1):
            reason = f"waiting for {len(held)} held station(s): " + "; ".join(f"{r.hold}" for r in held[:3])
            if reason != rollout.reason:
                await update_rollout(log.conn, rollout.id, reason=reason)
                message = f"rollout {rollout.id} is {reason}"
                await log("rollout_waiting", None, message, rollout=rollout.id, wave=wave + 1)
            return False
        await _pass_wave(log, rollout, in_wave, held)
        if wave == rollout.wave_count - 1:
            await _finish(log, rollout, "completed", _summary(rows))
            return True
        rollout = await rollout_in(log.conn, rollout.id)


async def _pass_wave(
    log: EventLog, rollout: Rollout, in_wave: list[RolloutStation], held: list[RolloutStation]
) -> None:
    wave = rollout.current_wave
    updated = sum(r.state == "updated" for r in in_wave)
    errors = sum(r.state in ERRORS for r in in_wave)
    await log(
        "rollout_wave_passed",
        None,
        f"rollout {rollout.id}: wave {wave + 1} of {rollout.wave_count} passed ({updated} updated, {errors} failed"
        + (f", {len(held)} held back carried into the next wave)" if held else ")"),
        rollout=rollout.id,
        wave=wave + 1,
        updated=updated,
        failed=errors,
    )
    if wave == rollout.wave_count - 1:
        return
    for row in held:
        await update_station(log.conn, rollout.id, row.mac, wave=wave + 1)
    await update_rollout(log.conn, rollout.id, current_wave=wave + 1, reason=None)
    size = len([r for r in await stations_in(log.conn, rollout.id) if r.wave == wave + 1])
    await log(
        "rollout_wave_started",
        None,
        f"rollout {rollout.id}: wave {wave + 2} of {rollout.wave_count} starts with {size} station(s)",
        rollout=rollout.id,
        wave=wave + 2,
        size=size,
    )


async def _halt(log: EventLog, rollout: Rollout, reason: str, errors: list[RolloutStation]) -> None:
    """Stop offering the image; stations offered it but that have not asked yet are put back in the queue."""
    await update_rollout(log.conn, rollout.id, state="halted", reason=reason)
    for row in await stations_in(log.conn, rollout.id):
        if row.state == "initiated" and row.direction == "forward":
            await update_station(
                log.conn,
                rollout.id,
                row.mac,
                state="queued",
                initiated_at=None,
                deadline_at=None,
                reason="held back: the rollout halted before it asked for the image",
            )
    failures = [
        {"mac": r.mac, "name": await name_in(log, r.mac), "state": r.state, "outcome": r.outcome, "reason": r.reason}
        for r in errors
    ]
    detail = "; ".join(f"{f['name']}: {f['reason']}" for f in failures[:3])
    await log(
        "rollout_halted",
        None,
        f"rollout {rollout.id} halted: {reason}" + (f" ({detail})" if detail else ""),
        rollout=rollout.id,
        wave=rollout.current_wave + 1,
        failures=failures,
    )


async def _finish_rollback(log: EventLog, rollout: Rollout) -> bool:
    rows = await stations_in(log.conn, rollout.id)
    back = [r for r in rows if r.direction == "back"]
    if any(r.state in IN_FLIGHT for r in back):
        return False
    done = sum(r.state == "rolled_back" for r in back)
    await _finish(log, rollout, "rolled_back", f"{done} of {len(back)} station(s) back on their previous image")
    return True


async def _finish(log: EventLog, rollout: Rollout, state: str, summary: str) -> None:
    await update_rollout(log.conn, rollout.id, state=state, finished_at=log.now, reason=summary)
    await release(log.conn, rollout.id)
    kind: EventKind = "rollout_completed" if state == "completed" else "rollout_rolled_back"
    message = f"rollout {rollout.id} ({rollout.name}) {state.replace('_', ' ')}: {summary}"
    await log(kind, None, message, rollout=rollout.id)


def _summary(rows: list[RolloutStation]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.state] = counts.get(row.state, 0) + 1
    return ", ".join(f"{n} {state.replace('_', ' ')}" for state, n in sorted(counts.items()))


def _target_version(row: RolloutStation, image: ImageFacts | None) -> str | None:
    if row.direction == "back":
        return row.previous_version
    return image.version if image else None
