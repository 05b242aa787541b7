"""Writes to the registry that record events, published to live subscribers only once committed."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import asdict
from typing import Any, TypeVar

import aiosqlite

from appliance.contract.events import EventKind, LiveKind
from services.core.eventbus import EventBus
from services.core.models import Event
from services.store.registry import Registry
from services.store.registry.history import insert_event

T = TypeVar("T")
Clock = Callable[[], float]
# True while an admin's request is served (the admin API sets it): the events its writes log are the audit
# trail, kept apart from what stations cause so that no station traffic can push them out.
ADMIN_ACTING: ContextVar[bool] = ContextVar("admin_acting", default=False)


class EventLog:
    """Handed to a write operation: `await log(kind, mac, message, **data)` appends an event."""

    def __init__(self, conn: aiosqlite.Connection, now: float, *, audit: bool = False) -> None:
        self.conn = conn
        self.now = now
        self.audit = audit
        self.events: list[Event] = []
        self.committed: list[Callable[[], None]] = []

    async def __call__(self, kind: EventKind, mac: str | None, message: str, **data: Any) -> Event:
        """Append an event in the current transaction."""
        event = await insert_event(
            self.conn, at=self.now, kind=kind, mac=mac, message=message, data=data, audit=self.audit
        )
        self.events.append(event)
        return event

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the transaction is durable (e.g. forget what memory holds of a deleted row)."""
        self.committed.append(callback)


class Journal:
    """Run registry writes whose events reach the live stream after, and only after, they commit."""

    def __init__(self, registry: Registry, bus: EventBus, clock: Clock = time.time) -> None:
        self.registry = registry
        self.bus = bus
        self.clock = clock

    async def write(self, op: Callable[[EventLog], Awaitable[T]]) -> T:
        """Run `op(log)` in the writer's transaction; publish the events it logged once it is durable."""
        logs: list[EventLog] = []
        audit = ADMIN_ACTING.get()  # read here: the operation itself runs in the writer's task

        async def run(conn: aiosqlite.Connection) -> T:
            log = EventLog(conn, self.clock(), audit=audit)
            logs.append(log)
            return await op(log)

        result = await self.registry.db.write(run)
        for callback in logs[-1].committed:
            callback()
        for event in logs[-1].events:
            self.bus.publish(event_message(event))
        return result

    async def write_alone(self, op: Callable[[EventLog], Awaitable[T]], then: Callable[[T], None]) -> T:
        """Like `write`, in a transaction no query overlaps; `then(result)` runs after the commit, before them."""
        logs: list[EventLog] = []

        async def run(conn: aiosqlite.Connection) -> T:
            log = EventLog(conn, self.clock())
            logs.append(log)
            return await op(log)

        result = await self.registry.db.write_alone(run, then)
        for event in logs[-1].events:
            self.bus.publish(event_message(event))
        return result

    def publish_live(self, kind: LiveKind, payload: dict[str, Any]) -> None:
        """Publish a message that is not stored (e.g. every check-in, for live views)."""
        self.bus.publish({"id": None, "at": self.clock(), "kind": kind, **payload})


def event_message(event: Event) -> dict[str, Any]:
    """The bus and wire form of a stored event."""
    return asdict(event)
