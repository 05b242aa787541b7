"""In-process publish/subscribe of what happens, for the admin API's live stream."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

log = logging.getLogger(__name__)

Message = dict[str, Any]


class EventBus:
    """Fan messages out to subscribers; a subscriber that falls behind loses its oldest messages, never the bus."""

    def __init__(self, queue_size: int = 1000) -> None:
        self._subscribers: set[asyncio.Queue[Message]] = set()
        self._queue_size = queue_size
        self._closed = False

    def publish(self, message: Message) -> None:
        """Hand `message` to every subscriber without waiting."""
        for queue in self._subscribers:
            if queue.full():
                # A slow TUI over a 3G link must not hold up check-ins: drop its oldest message.
                queue.get_nowait()
            queue.put_nowait(message)

    def close(self) -> None:
        """Tell every subscriber the stream is over (an empty message), e.g. when the service stops."""
        self._closed = True
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait({})

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Message]]:
        """Yield a queue that receives every message published while the context is open."""
        queue: asyncio.Queue[Message] = asyncio.Queue(self._queue_size)
        if self._closed:
            queue.put_nowait({})
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    @property
    def subscriber_count(self) -> int:
        """How many subscribers are listening."""
        return len(self._subscribers)
