"""Views kept fresh under a live stream: changes kept while a snapshot is fetched, fetches that fold, not cancel."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from textual.dom import DOMNode

Key = TypeVar("Key")
Value = TypeVar("Value")


class SinceSnapshot(Generic[Key, Value]):
    """What streamed in between asking for a snapshot and loading it (which the older snapshot would undo).

    Keyed, newest last: a second change under the same key replaces the first (or folds into it).
    """

    def __init__(self, fold: Callable[[Value, Value], Value] | None = None) -> None:
        self._fold = fold
        self._kept: dict[Key, Value] | None = None
        self._ticket = 0

    def asked(self) -> int:
        """A snapshot is being fetched: keep changes from now on; return the ticket its load presents."""
        self._ticket += 1
        self._kept = {}
        return self._ticket

    def keep(self, key: Key, value: Value) -> None:
        """Note a live change, if a snapshot is being fetched."""
        if self._kept is None:
            return
        previous = self._kept.pop(key, None)
        self._kept[key] = value if previous is None or self._fold is None else self._fold(previous, value)

    def take(self, ticket: int | None) -> dict[Key, Value]:
        """The changes to replay over the snapshot of `ticket`; none for an older ticket or none at all."""
        if ticket is None or ticket != self._ticket or self._kept is None:
            return {}
        kept, self._kept = self._kept, None
        return kept

    def abandon(self, ticket: int) -> None:
        """The snapshot of `ticket` will not come: stop keeping changes for it."""
        if ticket == self._ticket:
            self._kept = None


class Refetch:
    """A view's fetch-and-draw, run in a worker of its owner; asks made during a fetch fold into one more.

    A fetch under way is never cancelled: while events come faster than a round trip (a flash's progress
    every 2 %, a stream gap after another), cancelling would mean no fetch ever lands. Whatever is asked
    for is fetched after the ask, so the last draw is never older than the last event.
    """

    def __init__(self, owner: DOMNode, fetch: Callable[[], Awaitable[object]], name: str) -> None:
        self._owner = owner
        self._fetch = fetch
        self._name = name
        self._stale = False
        self._running = False

    @property
    def busy(self) -> bool:
        """True while a fetch is under way or asked for and not yet drawn."""
        return self._running or self._stale

    def __call__(self) -> None:
        """Fetch again soon (once more after the fetch under way, if there is one)."""
        self._stale = True
        if self._running:
            return
        self._running = True
        run: Any = self._fetch_until_fresh  # Textual's WorkType cannot name a method returning a coroutine
        self._owner.run_worker(run, name=self._name, group=self._name, exit_on_error=False)

    async def _fetch_until_fresh(self) -> None:
        try:
            while self._stale:
                self._stale = False
                await self._fetch()
        finally:
            self._running = False
