"""Keep history bounded on an SD card: downsample and prune old rows now and then, in the writer's transaction."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from services.fleet.journal import EventLog, Journal
from services.registry import commands as command_rows
from services.registry import health as health_rows
from services.registry.history import prune
from services.registry.rollups import downsample

log = logging.getLogger(__name__)
DAY = 86400.0


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


async def prune_once(journal: Journal, policy: RetentionPolicy) -> dict[str, int]:
    """Downsample and delete history past its retention; return what went."""

    async def op(entry: EventLog) -> dict[str, int]:
        now = entry.now
        gone = await downsample(
            entry.conn,
            raw_before=now - policy.checkin_days * DAY,
            hourly_before=now - policy.hourly_days * DAY,
            daily_before=now - policy.daily_days * DAY,
        )
        pruned = await prune(
            entry.conn,
            now=now,
            checkin_days=policy.checkin_days,
            event_days=policy.event_days,
            event_rows=policy.event_rows,
            transfer_days=policy.transfer_days,
        )
        gone["checkins"] += pruned.pop("checkins")
        gone.update(pruned)
        gone["commands"] = await command_rows.prune(entry.conn, now - policy.command_days * DAY)
        gone.update(
            await health_rows.prune(
                entry.conn, alerts_before=now - policy.event_days * DAY, restarts_before=now - policy.event_days * DAY
            )
        )
        return gone

    gone = await journal.write(op)
    if any(gone.values()):
        log.info("retention pruned %s", ", ".join(f"{n} {k}" for k, n in gone.items() if n))
    return gone


async def run_retention(journal: Journal, policy: RetentionPolicy) -> None:
    """Prune at start-up and then every `policy.every_s` seconds, until cancelled."""
    while True:
        try:
            await prune_once(journal, policy)
        except Exception:
            log.exception("pruning history failed; will try again")
        await asyncio.sleep(policy.every_s)
