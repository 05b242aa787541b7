"""What a check-in reads of its station, kept in memory between the writes that change it.

A site's stations check in every minute and nearly every check-in says "still here": reading the station's
row, its open alerts, its waiting commands and the config it applied, and checking its token, cost two
SQLite round trips that tell nothing new. The views are kept here; every commit says which stations it
changed (temporary triggers, `Database.on_touched`), and those are read again when next asked for. What a
held check-in changes (signal, uptime, heap, last seen) is written through by the check-in itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from services.core.models import Station
from services.store.registry.checkin_buffer import VIEWS_AT_ONCE, CheckinBuffer, checkin_views
from services.store.registry.database import ALL, Database
from services.store.registry.stations import station_from_row

View = dict[str, Any]


class HotViews:
    """The check-in view of each station that checked in since its last change, by MAC."""

    def __init__(self, db: Database, buffer: CheckinBuffer) -> None:
        self._db = db
        self._buffer = buffer
        self._views: dict[str, View] = {}
        # Bumped at each change of a station (and all of them at once): a read that began before a change
        # must not be kept after it.
        self._changes: dict[str, int] = {}
        self._epoch = 0
        self._followers: list[Callable[[frozenset[str]], None]] = []
        self._wanted: dict[str, asyncio.Future[View | None]] = {}  # stations to read, by the next read
        self._reading: asyncio.Task[None] | None = None
        self.reads = 0  # reads of the file (each for every station wanted then; the rest from memory)
        db.on_touched(self._touched)

    async def view(self, mac: str) -> View | None:
        """The station's check-in view (`checkin_view`), from memory when nothing changed it since; never mutate it.

        Stations not in memory are read together: after a restart, or under a burst, each read would otherwise
        wait its turn at the reader behind every check-in answered meanwhile.
        """
        known = self._views.get(mac)
        if known is not None:
            return known
        wanted = self._wanted.get(mac)
        if wanted is None:
            wanted = self._wanted[mac] = asyncio.get_running_loop().create_future()
            if self._reading is None:
                self._reading = asyncio.create_task(self._read_wanted(), name="hot-views")
        return await asyncio.shield(wanted)

    async def _read_wanted(self) -> None:
        try:
            while self._wanted:
                # A part at a time, each answered as soon as it is read: after a restart thousands are wanted.
                taken = list(self._wanted)[:VIEWS_AT_ONCE]
                wanted = {mac: self._wanted.pop(mac) for mac in taken}
                before = {mac: (self._epoch, self._changes.get(mac, 0)) for mac in wanted}
                self.reads += 1
                try:
                    found = await checkin_views(self._db, list(wanted))
                except Exception as exc:
                    for future in wanted.values():
                        if not future.done():
                            future.set_exception(exc)
                            future.exception()  # retrieved: each waiter re-raises it
                    continue
                for mac, future in wanted.items():
                    view = found.get(mac)
                    if view is not None and (self._epoch, self._changes.get(mac, 0)) == before[mac]:
                        self._views[mac] = view
                    if not future.done():
                        future.set_result(view)
        finally:
            self._reading = None

    async def station(self, mac: str) -> Station | None:
        """The station as `StationTable.get` gives it (its held check-in laid over it), from its view."""
        view = await self.view(mac)
        if view is None:
            return None
        tags = tuple(view["tag_list"].split(",")) if view["tag_list"] else ()
        return self._buffer.overlay(station_from_row(view, tags))

    def seen(self, mac: str, **volatile: object) -> None:
        """Write through what a held check-in changed (last seen, signal, uptime, heap): the file has it later."""
        known = self._views.get(mac)
        if known is not None:
            known.update({name: value for name, value in volatile.items() if value is not None})

    def follow(self, listener: Callable[[frozenset[str]], None]) -> None:
        """Be told, as this cache is, which stations changed (`ALL` for every one): for what is derived from them."""
        self._followers.append(listener)

    def _touched(self, macs: frozenset[str]) -> None:
        if ALL in macs:
            self._epoch += 1
            self._views.clear()
            self._changes.clear()
        else:
            for mac in macs:
                self._views.pop(mac, None)
                self._changes[mac] = self._changes.get(mac, 0) + 1
        for listener in self._followers:
            listener(macs)
