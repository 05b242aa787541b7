"""Keep history bounded on an SD card: prune old rows now and then, in the writer's transaction."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from services.fleet.journal import EventLog, Journal
from services.registry.history import prune

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long history is kept."""

    checkin_days: float = 14
    event_days: float = 90
    event_rows: int = 50_000
    every_s: float = 3600


async def prune_once(journal: Journal, policy: RetentionPolicy) -> dict[str, int]:
    """Delete history past its retention; return what went."""

    async def op(entry: EventLog) -> dict[str, int]:
        return await prune(
            entry.conn,
            now=entry.now,
            checkin_days=policy.checkin_days,
            event_days=policy.event_days,
            event_rows=policy.event_rows,
        )

    gone = await journal.write(op)
    if any(gone.values()):
        log.info("retention pruned %s", ", ".join(f"{n} {k}" for k, n in gone.items()))
    return gone


async def run_retention(journal: Journal, policy: RetentionPolicy) -> None:
    """Prune at start-up and then every `policy.every_s` seconds, until cancelled."""
    while True:
        try:
            await prune_once(journal, policy)
        except Exception:
            log.exception("pruning history failed; will try again")
        await asyncio.sleep(policy.every_s)
