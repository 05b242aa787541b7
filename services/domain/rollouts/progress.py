"""Moving one station along in a rollout: what the registry knows of it, and recording each step."""

from __future__ import annotations

from statistics import fmean

from services.core.rollout_model import Rollout, RolloutStation, StationFacts
from services.domain.health.alerts import raise_alert
from services.domain.rollouts.evidence import Step
from services.store.journal import EventLog
from services.store.registry import images as image_rows
from services.store.registry.rollouts import fetch, recent_rssi_in, update_station

# "Recent" signal: the readings of the last quarter of an hour, so one lucky (or unlucky) sample decides nothing.
RECENT_S = 900.0


async def facts_in(log: EventLog, mac: str) -> StationFacts | None:
    """What the registry knows of a station now, its recent signal averaged."""
    rows = await fetch(
        log.conn,
        "SELECT mac, name, chip, project, version, rssi, free_heap, bssid, last_seen_at FROM stations WHERE mac = ?",
        (mac,),
    )
    if not rows:
        return None
    row = rows[0]
    tag_rows = await fetch(log.conn, "SELECT tag FROM station_tags WHERE mac = ? ORDER BY tag", (mac,))
    tags = tuple(str(r["tag"]) for r in tag_rows)
    readings = await recent_rssi_in(log.conn, mac, log.now - RECENT_S)
    if row["rssi"] is not None and (row["last_seen_at"] or 0) >= log.now - RECENT_S:
        readings.insert(0, row["rssi"])
    return StationFacts(
        mac=mac,
        name=row["name"],
        chip=row["chip"],
        project=row["project"],
        version=row["version"],
        tags=tags,
        recent_rssi=fmean(readings) if readings else row["rssi"],
        free_heap=row["free_heap"],
        bssid=row["bssid"],
        last_seen_at=row["last_seen_at"],
    )


async def record(log: EventLog, rollout: Rollout, row: RolloutStation, step: Step) -> None:
    """Store a station's new state with its reason, tell the admin, and leave a finished station on its image."""
    changes = {"state": step.state, **step.changes}
    if step.outcome is not None:
        changes["outcome"] = step.outcome
    if step.reason is not None:
        changes["reason"] = step.reason
    if step.state == "updating" and "soak_until" in changes:
        # One that went silent while soaking is judged a time-out after the soak.
        changes["deadline_at"] = changes["soak_until"] + rollout.settings.timeout_s
    await update_station(log.conn, rollout.id, row.mac, **changes)
    name = await name_in(log, row.mac)
    reason = step.reason or row.reason
    await log(
        "rollout_station",
        row.mac,
        f"rollout {rollout.id}: {name} {state_words(step.state)}" + (f": {reason}" if reason else ""),
        rollout=rollout.id,
        wave=row.wave + 1,
        state=step.state,
        outcome=step.outcome or row.outcome,
        reason=reason,
    )
    if step.wrong_version:
        # Stored and cleared by the health alerts: cleared once the station reports the version it was given.
        expected = row.previous_version if row.direction == "back" else await _image_version(log, rollout.sha256)
        await raise_alert(
            log,
            "wrong_version",
            row.mac,
            f"{name} came back on the wrong version after an update: {step.reason}",
            rollout=rollout.id,
            severity="warning",
            expected=expected,
        )
    if step.state == "updated" and row.direction == "forward":
        await pin(log, row.mac, rollout.sha256)
    elif step.state == "rolled_back" and row.previous_sha256 is not None:
        await pin(log, row.mac, row.previous_sha256)


async def pin(log: EventLog, mac: str, sha256: str) -> None:
    """Assign the image to the station itself, so that it stays on it once the rollout is over."""
    if await fetch(log.conn, "SELECT 1 FROM images WHERE sha256 = ?", (sha256,)):
        await image_rows.assign(log.conn, sha256, mac=mac, tag=None, now=log.now)


async def _image_version(log: EventLog, sha256: str) -> str | None:
    rows = await fetch(log.conn, "SELECT version FROM images WHERE sha256 = ?", (sha256,))
    return None if not rows else rows[0]["version"]


async def name_in(log: EventLog, mac: str) -> str:
    """A station's name, for messages."""
    rows = await fetch(log.conn, "SELECT name FROM stations WHERE mac = ?", (mac,))
    return str(rows[0]["name"]) if rows else mac


def state_words(state: str) -> str:
    """A station state as a person says it."""
    return {"timed_out": "timed out", "rolled_back": "rolled back", "queued": "is queued"}.get(state, state)
