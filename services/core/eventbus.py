"""In-process publish/subscribe of what happens, for the admin API's live stream."""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

log = logging.getLogger(__name__)

Message = dict[str, Any]
GAP = "stream_gap"


def gap_notice(lost: int) -> Message:
    """The message that tells a subscriber it lost `lost` messages and should fetch its views again."""
    return {"id": None, "at": time.time(), "kind": GAP, "lost": lost, "message": f"{lost} messages lost: fetch again"}


class Subscription:
    """One subscriber's messages, oldest first, at most `size` of them waiting.

    When it falls behind it loses its oldest messages and, at its next read, is told how many (a `stream_gap`
    notice ahead of what is left): a thousand stations chatter faster than a TUI over 3G reads, and a view
    with holes in it must fetch again rather than be trusted.
    """

    def __init__(self, size: int) -> None:
        self._waiting: collections.deque[Message] = collections.deque(maxlen=size)
        self._lost = 0
        self._arrived = asyncio.Event()

    def put(self, message: Message) -> None:
        """Add a message, losing the oldest if the subscriber is a whole queue behind."""
        if len(self._waiting) == self._waiting.maxlen:
            self._lost += 1
        self._waiting.append(message)
        self._arrived.set()

    async def get(self) -> Message:
        """The next message (a gap notice first if any were lost), waiting for one if there is none."""
        while not self._waiting and not self._lost:
            self._arrived.clear()
            await self._arrived.wait()
        if self._lost:
            lost, self._lost = self._lost, 0
            return gap_notice(lost)
        return self._waiting.popleft()

    def empty(self) -> bool:
        """True when a read would wait."""
        return not self._waiting and not self._lost


class EventBus:
    """Fan messages out to subscribers; a subscriber that falls behind loses its oldest messages, never the bus."""

    def __init__(self, queue_size: int = 1000) -> None:
        self._subscribers: set[Subscription] = set()
        self._queue_size = queue_size
        self._closed = False

    def publish(self, message: Message) -> None:
        """Hand `message` to every subscriber without waiting."""
        for subscription in self._subscribers:
            subscription.put(message)

    def close(self) -> None:
        """Tell every subscriber the stream is over (an empty message), e.g. when the service stops."""
        self._closed = True
        for subscription in self._subscribers:
            subscription.put({})

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        """Yield a subscription that receives every message published while the context is open."""
        subscription = Subscription(self._queue_size)
        if self._closed:
            subscription.put({})
        self._subscribers.add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers.discard(subscription)

    @property
    def subscriber_count(self) -> int:
        """How many subscribers are listening."""
        return len(self._subscribers)
