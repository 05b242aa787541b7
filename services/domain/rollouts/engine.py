"""The rollout engine: follows each station of every unfinished rollout, decides its offers, keeps the time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from services.core.models import CheckIn, Station
from services.core.rollout_model import FINAL, IN_FLIGHT, Rollout, RolloutDecision, RolloutStation
from services.domain.rollouts.evidence import Seen, Step, after_checkin, has_restarted
from services.domain.rollouts.gates import ap_busy, hold_reason
from services.domain.rollouts.progress import facts_in, record, state_words
from services.domain.rollouts.waves import RECHECK_S, advance, image_in, note_hold
from services.store.journal import EventLog, Journal
from services.store.registry.rollouts import (
    active_rollouts_in,
    active_row_in,
    fetch,
    open_downloads_in,
    rollout_in,
    sql_list,
    update_station,
)

log = logging.getLogger(__name__)

# An offer not yet followed by a download holds its access-point slot this long (offers and downloads are
# separate requests: without it, two stations polling at once could both take the last slot).
_RESERVATION_S = 15.0
# A download left open longer than this (the service was killed mid-transfer) no longer counts against its AP.
_STALE_DOWNLOAD_S = 600.0
# After a restart of the service, a station gets at least this long before it is judged: it could not
# reach the appliance while the service was down.
_RESTART_GRACE_S = 300.0
_IN_FLIGHT = sql_list(IN_FLIGHT)


@dataclass(frozen=True, slots=True)
class RolloutOffer:
    """What a rollout answers for one poll of a station it holds: an image to send, or none and why."""

    rollout_id: int
    mac: str
    sha256: str | None
    note: str | None
    judged: bool  # the station is in flight: the poll's answer is evidence to record
    first_poll_at: float | None
    last_answer: str | None


class RolloutEngine:
    """Runs every unfinished rollout from the registry; `start()` once it is open, `stop()` before it closes."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._registry = journal.registry
        self._watched: set[str] = set()
        self._generation = -1  # the registry file's generation the watch set was read from
        self._reserved: dict[str, tuple[str, float]] = {}  # MAC -> (BSSID, until)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Pick up the rollouts that were running when the service stopped, and start the clock."""
        await self._journal.write(self._restore)
        await self.refresh()
        self._task = asyncio.create_task(self._run(), name="rollouts")

    async def stop(self) -> None:
        """Stop the clock (the state is all in the registry)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def wake(self) -> None:
        """Ask the clock to look at the rollouts now (something changed)."""
        self._wake.set()

    async def refresh(self) -> None:
        """Re-read which stations unfinished rollouts hold (after one starts, ends or rolls back)."""
        self._generation = self._registry.db.generation
        self._watched = await self._registry.rollouts.active_macs()
        self.wake()

    async def settle(self) -> None:
        """After an admin's action: re-read what the rollouts hold and move them on before answering."""
        await self.refresh()
        await self.tick()

    async def tick(self) -> float | None:
        """Judge time-outs and waves of every unfinished rollout now; return when it should look again."""
        finished = False
        for rollout in await self._registry.rollouts.active():
            # One transaction a rollout: one that cannot move on (a bug, a broken row) holds up no other.
            try:
                finished |= await self._journal.write(partial(_advance, rollout.id))
            except Exception:
                log.exception("rollout %d could not move on; it is tried again shortly", rollout.id)
        if finished:
            await self.refresh()
        return await self._next_due()

    async def checked_in(self, entry: EventLog, report: CheckIn, before: Mapping[str, Any]) -> None:
        """Judge a check-in (in its own transaction): back on the new version, on the old one, restarted?"""
        await self._keep_up(entry)
        if report.mac not in self._watched:
            return
        found = await active_row_in(entry.conn, report.mac)
        if found is None:
            return
        rollout, row = found
        if row.state == "queued":
            if rollout.state == "running" and row.wave == rollout.current_wave:
                self.wake()  # its signal or heap may now let it through
            return
        if row.state not in IN_FLIGHT:
            return
        image = await image_in(entry, rollout.sha256)
        target = row.previous_version if row.direction == "back" else (image.version if image else None)
        seen = Seen(
            now=entry.now,
            version=report.version or before.get("version"),
            restarted=has_restarted(
                before_uptime=before.get("uptime_s"),
                before_seen_at=before.get("last_seen_at"),
                uptime=report.uptime_s,
                now=entry.now,
            ),
            cause=report.restart_cause or before.get("restart_cause"),
        )
        step = after_checkin(row, seen, target, rollout.settings.soak_s)
        if step is not None:
            await record(entry, rollout, row, step)
            self.wake()

    def shift(self, delta: float) -> None:
        """The clock stepped and every stamp moved by `delta`: so do the reservations; the deadlines are looked
        at again."""
        self._reserved = {mac: (bssid, until + delta) for mac, (bssid, until) in self._reserved.items()}
        self.wake()

    def forget(self, mac: str) -> None:
        """A station was deleted (its rollout rows with it): stop watching it and free its download slot."""
        self._watched.discard(mac)
        self._reserved.pop(mac, None)
        self.wake()  # its wave may now be complete

    def holds(self, mac: str) -> bool:
        """True while an active rollout holds this station (so that each of its check-ins is written and judged)."""
        return mac in self._watched

    async def offer(self, station: Station) -> RolloutOffer | None:
        """What the rollout holding this station offers it now; None if no rollout holds it."""
        if self._generation != self._registry.db.generation:
            await self.refresh()
        if station.mac not in self._watched:
            return None

        async def op(entry: EventLog) -> RolloutOffer | None:
            found = await active_row_in(entry.conn, station.mac)
            return None if found is None else await self._decide(entry, *found)

        return await self._journal.write(op)

    async def polled(self, decision: RolloutDecision, sent: bool, note: str | None) -> None:
        """Record how a poll was answered, as evidence for the verdict (written only when it changes)."""
        if not isinstance(decision, RolloutOffer) or not decision.judged:
            return
        offer = decision
        answer = "sent the image" if sent else f"answered 304: {note or 'it reported it already runs that image'}"
        if offer.first_poll_at is not None and answer == offer.last_answer:
            return

        async def op(entry: EventLog) -> None:
            changes: dict[str, Any] = {"last_answer": answer}
            if offer.first_poll_at is None:
                changes["first_poll_at"] = entry.now
            await update_station(entry.conn, offer.rollout_id, offer.mac, **changes)

        await self._journal.write(op)

    async def transfer_started(self, entry: EventLog, mac: str, sha256: str) -> None:
        """A download began (in its transaction): the station is downloading the rollout's image."""
        self._reserved.pop(mac, None)
        found = await self._held(entry, mac, sha256)
        if found is not None and found[1].state == "initiated":
            rollout, row = found
            step = Step("downloading", None, "downloading the image", {"download_started_at": entry.now})
            await record(entry, rollout, row, step)

    async def transfer_finished(self, entry: EventLog, mac: str, sha256: str, reached: float) -> None:
        """A download ended (in its transaction) having sent the image up to fraction `reached`."""
        found = await self._held(entry, mac, sha256)
        if found is None or found[1].state not in ("initiated", "downloading"):
            return
        rollout, row = found
        if reached >= 1.0:
            changes = {"downloaded_at": entry.now, "reached": 1.0}
            step = Step("downloaded", None, "downloaded the image in full", changes)
        else:
            best = max(reached, row.reached or 0.0)
            step = Step("downloading", "partial", f"downloaded {int(best * 100)} %, then stopped", {"reached": best})
        await record(entry, rollout, row, step)
        self.wake()

    async def _decide(self, entry: EventLog, rollout: Rollout, row: RolloutStation) -> RolloutOffer:
        def answer(sha256: str | None, note: str | None, judged: bool = False) -> RolloutOffer:
            return RolloutOffer(rollout.id, row.mac, sha256, note, judged, row.first_poll_at, row.last_answer)

        label = f"rollout {rollout.id}"
        if row.state in FINAL or row.state == "updating":
            quiet = row.state in ("updated", "updating", "rolled_back")
            return answer(None, None if quiet else f"{label}: {state_words(row.state)}: {row.reason}")
        if row.state == "queued":
            return answer(None, row.hold or f"queued in {label} (wave {row.wave + 1} of {rollout.wave_count})")
        if rollout.state == "paused":
            return answer(None, f"{label} is paused", judged=True)
        if rollout.state == "halted":
            return answer(None, f"{label} halted: {rollout.reason}", judged=True)
        facts = await facts_in(entry, row.mac)
        if facts is None:
            return answer(None, None)
        back = row.direction == "back"
        hold = hold_reason(facts, rollout.settings, approved=row.approved or back, now=entry.now)
        self._reserved = {m: held for m, held in self._reserved.items() if held[1] > entry.now}
        if hold is None and facts.bssid is not None:
            since = entry.now - _STALE_DOWNLOAD_S
            busy = await open_downloads_in(entry.conn, facts.bssid, other_than=row.mac, since=since)
            busy |= {m for m, (bssid, _) in self._reserved.items() if bssid == facts.bssid}
            busy.discard(row.mac)
            hold = ap_busy(len(busy), rollout.settings, facts.bssid)
        if hold is not None:
            if row.state == "initiated" and not back and not hold.startswith("waits for a download slot"):
                changes = {"state": "queued", "initiated_at": None, "deadline_at": None}
                await update_station(entry.conn, rollout.id, row.mac, **changes)
            else:
                # Waiting for its link or its access point is not the station's failure: its clock restarts.
                deadline = entry.now + rollout.settings.timeout_s
                await update_station(entry.conn, rollout.id, row.mac, deadline_at=deadline)
            return answer(None, await note_hold(entry, rollout, row, hold), judged=True)
        if row.hold is not None:
            await update_station(entry.conn, rollout.id, row.mac, hold=None)
        if facts.bssid is not None:
            self._reserved[row.mac] = (facts.bssid, entry.now + _RESERVATION_S)
        return answer(row.previous_sha256 if back else rollout.sha256, None, judged=True)

    async def _keep_up(self, entry: EventLog) -> None:
        """After a restore swapped the registry file, read the watch set again (inside this transaction)."""
        if self._generation != self._registry.db.generation:
            self._generation = self._registry.db.generation
            rows = await fetch(entry.conn, "SELECT mac FROM rollout_stations WHERE active = 1")
            self._watched = {str(r["mac"]) for r in rows}
            self.wake()

    async def _held(self, entry: EventLog, mac: str, sha256: str) -> tuple[Rollout, RolloutStation] | None:
        await self._keep_up(entry)
        if mac not in self._watched:
            return None
        found = await active_row_in(entry.conn, mac)
        if found is None:
            return None
        rollout, row = found
        target = row.previous_sha256 if row.direction == "back" else rollout.sha256
        return found if target == sha256 else None

    async def _restore(self, entry: EventLog) -> None:
        for rollout in await active_rollouts_in(entry.conn):
            rows = await fetch(
                entry.conn,
                f"SELECT mac FROM rollout_stations WHERE rollout_id = ? AND deadline_at < ? AND state IN {_IN_FLIGHT}",
                (rollout.id, entry.now + _RESTART_GRACE_S),
            )
            grace = min(_RESTART_GRACE_S, rollout.settings.timeout_s)
            for row in rows:
                await update_station(entry.conn, rollout.id, row["mac"], deadline_at=entry.now + grace)
            await entry(
                "rollout_restored",
                None,
                f"rollout {rollout.id} ({rollout.name}) picked up after a restart of the service:"
                f" {rollout.state.replace('_', ' ')}, wave {rollout.current_wave + 1} of {rollout.wave_count}",
                rollout=rollout.id,
                state=rollout.state,
            )

    async def _next_due(self) -> float | None:
        """The soonest deadline of an in-flight station of a rollout that keeps time (a paused one does not)."""
        rollouts = [r for r in await self._registry.rollouts.active() if r.state != "paused"]
        if not rollouts:
            return None
        due = await self._registry.rollouts.next_deadline([r.id for r in rollouts])
        if any(r.state == "running" for r in rollouts):
            recheck = self._journal.clock() + RECHECK_S
            due = recheck if due is None else min(due, recheck)
        return due

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                due = await self.tick()
            except Exception:
                log.exception("the rollout clock failed; it tries again shortly")
                due = self._journal.clock() + 5.0
            timeout = None if due is None else max(due - self._journal.clock(), 0.05)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)


async def _advance(rollout_id: int, entry: EventLog) -> bool:
    """Move one rollout on, read afresh inside the transaction; True if it finished."""
    rollout = await rollout_in(entry.conn, rollout_id)
    return rollout.active and await advance(entry, rollout)
