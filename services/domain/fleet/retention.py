"""Keep history bounded on an SD card: downsample and prune old rows now and then, in the writer's transaction."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from services.domain.clock import DAY, ClockTrust
from services.store.journal import EventLog, Journal
from services.store.registry import commands as command_rows
from services.store.registry import health as health_rows
from services.store.registry.history import prune
from services.store.registry.rollups import downsample

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long history is kept, and at what resolution."""

    checkin_days: float = 3  # raw samples (one per station every few minutes, plus every restart)
    event_days: float = 90
    event_rows: int = 50_000
    every_s: float = 3600
    hourly_days: float = 14  # then hourly summaries of the samples
    daily_days: float = 365  # then daily ones
    transfer_days: float = 14  # download records: what an update's outcome is told from
    command_days: float = 30  # finished commands


async def prune_once(journal: Journal, policy: RetentionPolicy, trust: ClockTrust | None = None) -> dict[str, int]:
    """Downsample and delete history past its retention; return what went.

    `trust`: what the clock's stamps are worth. Nothing goes by age while the clock is not synchronised,
    nor anything stamped while it may have been wrong, before it is surely old enough.
    """
    trust = trust or ClockTrust()

    async def op(entry: EventLog) -> dict[str, int]:
        now = entry.now

        def days(kept: float) -> float:
            return trust.kept_days(now, kept)

        gone = await downsample(
            entry.conn,
            raw_before=now - days(policy.checkin_days) * DAY,
            hourly_before=now - days(policy.hourly_days) * DAY,
            daily_before=now - days(policy.daily_days) * DAY,
        )
        pruned = await prune(
            entry.conn,
            now=now,
            checkin_days=days(policy.checkin_days),
            event_days=days(policy.event_days),
            event_rows=policy.event_rows,
            transfer_days=days(policy.transfer_days),
        )
        gone["checkins"] += pruned.pop("checkins")
        gone.update(pruned)
        gone["commands"] = await command_rows.prune(entry.conn, now - days(policy.command_days) * DAY)
        gone.update(
            await health_rows.prune(
                entry.conn,
                alerts_before=now - days(policy.event_days) * DAY,
                restarts_before=now - days(policy.event_days) * DAY,
            )
        )
        return gone

    gone = await journal.write(op)
    if any(gone.values()):
        log.info("retention pruned %s", ", ".join(f"{n} {k}" for k, n in gone.items() if n))
    else:
        log.debug("retention pruned nothing%s", "" if trust.synchronised is not False else " (clock not synchronised)")
    return gone


async def run_retention(
    journal: Journal, policy: RetentionPolicy, trust: Callable[[], ClockTrust] = ClockTrust
) -> None:
    """Prune at start-up and then every `policy.every_s` seconds, until cancelled (`trust()`: the clock's, then)."""
    while True:
        try:
            await prune_once(journal, policy, trust())
        except Exception:
            log.exception("pruning history failed; will try again")
        await asyncio.sleep(policy.every_s)
