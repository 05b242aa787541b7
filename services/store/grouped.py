"""Many small writes of one kind as one operation: each waits for a single trip through the writer.

Fifty stations pulling an image at once each need their download on record. As fifty operations, every one
costs its own savepoint and statements, and each statement is a hop to SQLite's thread and back through a
loop that is busy sending: the last 4 KiB of each image, which wait for its record, waited 12 to 18 ms.
Grouped, the writer runs one operation for all of them, whose statements can each carry every item (6 ms).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from services.store.journal import EventLog, Journal

Item = TypeVar("Item")
Result = TypeVar("Result")
# Writes every item of a group in the current transaction; returns one result per item, in their order.
GroupWrite = Callable[[EventLog, Sequence[Item]], Awaitable[Sequence[Result]]]


class GroupedWrites(Generic[Item, Result]):
    """Write items with `write_group`, every item that arrived before its group's turn in one operation."""

    def __init__(self, journal: Journal, write_group: GroupWrite[Item, Result]) -> None:
        self._journal = journal
        self._write_group = write_group
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._queued = False  # a group's operation waits in the writer's queue and will take what is waiting
        self._tasks: set[asyncio.Task[None]] = set()  # the loop keeps only weak references to tasks

    async def write(self, item: Item) -> Result:
        """Write `item` with the others of its group; its result once committed (or the write's error)."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if not self._queued:
            self._queued = True
            task = asyncio.ensure_future(self._write_waiting())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _write_waiting(self) -> None:
        taken: list[tuple[Item, asyncio.Future[Result]]] = []
        failed_inside = False  # the group's own statements failed, not the commit around them

        async def group(entry: EventLog) -> Sequence[Result]:
            nonlocal failed_inside
            # Taken when the writer gets to it, not when queued: whatever arrived meanwhile goes too.
            taken.extend(self._waiting)
            self._waiting.clear()
            self._queued = False
            try:
                results = await self._write_group(entry, [item for item, _ in taken])
            except Exception:
                failed_inside = True
                raise
            if len(results) != len(taken):
                raise RuntimeError(f"a group of {len(taken)} writes gave {len(results)} results")
            return results

        try:
            results = await self._journal.write(group)
        except BaseException as exc:
            if not taken:  # the operation never ran (the registry closed, say): nothing waiting will be written
                taken.extend(self._waiting)
                self._waiting.clear()
                self._queued = False
            if failed_inside and len(taken) > 1 and isinstance(exc, Exception):
                # One bad item (a station deleted meanwhile, say) must not cost the others their record:
                # each is tried alone, in its own savepoint, and the rest still commit together.
                await asyncio.gather(*(self._write_alone(item, future) for item, future in taken))
                return
            for _, future in taken:
                _settle(future, exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), result in zip(taken, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _write_alone(self, item: Item, future: asyncio.Future[Result]) -> None:
        async def one(entry: EventLog) -> Result:
            return (await self._write_group(entry, [item]))[0]

        try:
            result = await self._journal.write(one)
        except Exception as exc:
            _settle(future, exc)
        else:
            if not future.done():
                future.set_result(result)


def _settle(future: asyncio.Future[Result], error: BaseException) -> None:
    if future.done():
        return
    if isinstance(error, asyncio.CancelledError):
        future.cancel()
    else:
        future.set_exception(error)
