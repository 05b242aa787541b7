"""What a check-in reads of its station, kept in memory between the writes that change it.

A site's stations check in every minute and nearly every check-in says "still here": reading the station's
row, its open alerts, its waiting commands and the config it applied, and checking its token, cost two
SQLite round trips that tell nothing new. The views are kept here; every commit says which stations it
changed (temporary triggers, `Database.on_touched`), and those are read again when next asked for. What a
held check-in changes (signal, uptime, heap, last seen) is written through by the check-in itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.core.models import Station
from services.store.registry.batched import BatchedCache
from services.store.registry.checkin_buffer import VIEWS_AT_ONCE, CheckinBuffer, checkin_views
from services.store.registry.database import ALL, Database
from services.store.registry.stations import station_from_row

View = dict[str, Any]


class HotViews:
    """The check-in view of each station that checked in since its last change, by MAC."""

    def __init__(self, db: Database, buffer: CheckinBuffer) -> None:
        self._buffer = buffer
        # Stations not in memory are read together: after a restart, or under a burst, each read would
        # otherwise wait its turn at the reader behind every check-in answered meanwhile.
        self._views: BatchedCache[str, View] = BatchedCache(
            lambda macs: checkin_views(db, macs), at_once=VIEWS_AT_ONCE, name="hot-views"
        )
        self._followers: list[Callable[[frozenset[str]], None]] = []
        db.on_touched(self._touched)

    async def view(self, mac: str) -> View | None:
        """The station's check-in view (`checkin_view`), from memory when nothing changed it since; never mutate it."""
        return await self._views.get(mac)

    async def station(self, mac: str) -> Station | None:
        """The station as `StationTable.get` gives it (its held check-in laid over it), from its view."""
        view = await self.view(mac)
        if view is None:
            return None
        tags = tuple(view["tag_list"].split(",")) if view["tag_list"] else ()
        return self._buffer.overlay(station_from_row(view, tags))

    def seen(self, mac: str, **volatile: object) -> None:
        """Write through what a held check-in changed (last seen, signal, uptime, heap): the file has it later."""
        known = self._views.peek(mac)
        if known is not None:
            known.update({name: value for name, value in volatile.items() if value is not None})

    def follow(self, listener: Callable[[frozenset[str]], None]) -> None:
        """Be told, as this cache is, which stations changed (`ALL` for every one): for what is derived from them."""
        self._followers.append(listener)

    def _touched(self, macs: frozenset[str]) -> None:
        if ALL in macs:
            self._views.forget_all()
        else:
            self._views.forget(macs)
        for listener in self._followers:
            listener(macs)
