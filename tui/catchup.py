"""Live changes kept while a view's snapshot is fetched, to be replayed over the snapshot when it lands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

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
