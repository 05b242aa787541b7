"""Run a step every few seconds until cancelled; a failing step is logged and tried again, never fatal."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def run_periodically(name: str, every_s: float, step: Callable[[], Awaitable[object]]) -> None:
    """Await `step()` every `every_s` seconds (the first after one interval), until cancelled."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await step()
        except Exception:
            log.exception("%s failed; will try again in %.0f s", name, every_s)
