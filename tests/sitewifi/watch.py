"""Waiting for what the admin would see: the live event stream, collected and awaited by predicate."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from appliance.contract.client import AdminClient

Message = dict[str, Any]


class EventWatch:
    """Every stored event the service streams, from the moment the watch is connected."""

    def __init__(self) -> None:
        self.events: list[Message] = []
        self.checkins: dict[str, int] = {}  # live check-ins seen, by MAC
        self._arrived = asyncio.Event()

    def of(self, kind: str) -> list[Message]:
        """The events of one kind so far."""
        return [e for e in self.events if e.get("kind") == kind]

    async def until(self, condition: Callable[[EventWatch], bool], within: float) -> None:
        """Return once `condition(self)` holds; fail after `within` seconds."""

        async def wait() -> None:
            while not condition(self):
                self._arrived.clear()
                await self._arrived.wait()

        await asyncio.wait_for(wait(), within)

    async def _pump(self, client: AdminClient, ready: asyncio.Event) -> None:
        async for message in client.stream_events(on_connect=ready.set):
            if message.get("id") is not None:  # stored events; live check-ins carry no id
                self.events.append(message)
            elif message.get("kind") == "checkin":
                mac = str(message.get("mac"))
                self.checkins[mac] = self.checkins.get(mac, 0) + 1
            self._arrived.set()


@contextlib.asynccontextmanager
async def watching(client: AdminClient) -> AsyncIterator[EventWatch]:
    """An EventWatch connected to the service's stream for the block's duration."""
    watch = EventWatch()
    ready = asyncio.Event()
    task = asyncio.create_task(watch._pump(client, ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        yield watch
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
