"""Rows kept in memory by key, read together when missing, and dropped when a commit changes their station.

Under a burst (a fleet checking in after a restart, fifty stations pulling an update at once) each caller
reading its own rows would wait its turn at the one reader, one round trip after another. Keys missing at
about the same time are read in one statement instead, and each caller is answered as soon as it is read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar, cast

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BatchedCache(Generic[K, V]):
    """Values by key, each belonging to one station (`owner`, the key itself when None): read in batches,
    kept until `forget`."""

    def __init__(
        self,
        read: Callable[[list[K]], Awaitable[dict[K, V]]],
        *,
        at_once: int,
        name: str,
        owner: Callable[[K], str] | None = None,
    ) -> None:
        self._read = read  # the values of these keys (a key without one is left out)
        self._owner = owner
        self._at_once = at_once
        self._name = name
        self._values: dict[K, V] = {}
        # Bumped at each change of a station (and all of them at once): a read that began before a change
        # must not be kept after it.
        self._changes: dict[str, int] = {}
        self._epoch = 0
        self._wanted: dict[K, asyncio.Future[V | None]] = {}  # keys to read, by the next read
        self._reading: asyncio.Task[None] | None = None

    def peek(self, key: K) -> V | None:
        """The value kept for `key`, without reading: None when it is not in memory."""
        return self._values.get(key)

    async def get(self, key: K) -> V | None:
        """The value of `key` (None if it has none), from memory when nothing changed it since it was read."""
        known = self._values.get(key)
        if known is not None:
            return known
        wanted = self._wanted.get(key)
        if wanted is None:
            wanted = self._wanted[key] = asyncio.get_running_loop().create_future()
            if self._reading is None:
                self._reading = asyncio.create_task(self._read_wanted(), name=self._name)
        return await asyncio.shield(wanted)

    def forget(self, owners: frozenset[str]) -> None:
        """The rows of these stations changed: their values are read again when next asked for."""
        if self._owner is None:
            for owner in owners:
                self._values.pop(cast(K, owner), None)  # the keys are the stations themselves
        else:
            for key in [key for key in self._values if self._owner(key) in owners]:
                del self._values[key]
        for owner in owners:
            self._changes[owner] = self._changes.get(owner, 0) + 1

    def forget_all(self) -> None:
        """Anything may have changed (a restore, a clock step, a site-wide change): read everything again."""
        self._epoch += 1
        self._values.clear()
        self._changes.clear()

    def _version(self, key: K) -> tuple[int, int]:
        owner = cast(str, key) if self._owner is None else self._owner(key)
        return self._epoch, self._changes.get(owner, 0)

    async def _read_wanted(self) -> None:
        try:
            while self._wanted:
                # A part at a time, each answered as soon as it is read: after a restart thousands are wanted.
                taken = list(self._wanted)[: self._at_once]
                wanted = {key: self._wanted.pop(key) for key in taken}
                before = {key: self._version(key) for key in wanted}
                try:
                    found = await self._read(list(wanted))
                except Exception as exc:
                    for future in wanted.values():
                        if not future.done():
                            future.set_exception(exc)
                            future.exception()  # retrieved: each waiter re-raises it
                    continue
                for key, future in wanted.items():
                    value = found.get(key)
                    if value is not None and self._version(key) == before[key]:
                        self._values[key] = value
                    if not future.done():
                        future.set_result(value)
        finally:
            self._reading = None
