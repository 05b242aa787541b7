"""The event log: live, newest first, filterable by any word."""

from __future__ import annotations

import time
from typing import Any

from textual.widgets import DataTable

from tui.catchup import SinceSnapshot

MAX_ROWS = 500


class EventsTable(DataTable[Any]):
    """Stored events as they happen (live check-ins are left to the stations view)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.events: list[dict[str, Any]] = []
        self.filter_text = ""
        self.since_snapshot: SinceSnapshot[Any, dict[str, Any]] = SinceSnapshot()  # by event id
        self._stale = False  # rows differ from `events`: redrawn when next shown, at most once per refresh

    def on_mount(self) -> None:
        """Lay out the columns."""
        self.add_columns("Time", "Kind", "Station", "Message")

    def on_show(self) -> None:
        """Catch up with what arrived while another tab was showing."""
        if self._stale:
            self._rebuild()

    def load(self, events: list[dict[str, Any]], ticket: int | None = None) -> None:
        """Show these stored events (newest first), and those streamed since the ticket's snapshot was asked."""
        held = {event["id"] for event in events}
        streamed = [e for e in self.since_snapshot.take(ticket).values() if e["id"] not in held]
        # By id, never by time: after a step of the clock the stamps of two events may disagree with their order.
        self.events = sorted(streamed + events, key=lambda e: int(e["id"]), reverse=True)[:MAX_ROWS]
        self._rebuild()

    def add_event(self, event: dict[str, Any]) -> None:
        """Put a new event in its place by id, on top as a rule (drawn with the next refresh, or when shown)."""
        self.since_snapshot.keep(event["id"], event)
        place = 0
        while place < len(self.events) and int(self.events[place]["id"]) > int(event["id"]):
            place += 1
        self.events.insert(place, event)
        del self.events[MAX_ROWS:]
        if self._visible(event) and not self._stale:
            # New rows go on top, which DataTable can only do by a rebuild: one per refresh, not one per event
            # (a busy site streams dozens a second), and none while the admin looks at another tab.
            self._stale = True
            self.call_after_refresh(self._redraw_if_shown)

    def set_filter(self, text: str) -> None:
        """Show only events containing every word of `text`."""
        self.filter_text = text.strip().lower()
        self._rebuild()

    def _redraw_if_shown(self) -> None:
        if self._stale and self.is_on_screen:
            self._rebuild()

    def _rebuild(self) -> None:
        self._stale = False
        self.clear()
        for event in self.events:
            if self._visible(event):
                self.add_row(
                    time.strftime("%m-%d %H:%M:%S", time.localtime(event["at"])),
                    event["kind"],
                    event.get("mac") or "",
                    event.get("message") or "",
                )

    def _visible(self, event: dict[str, Any]) -> bool:
        haystack = f"{event['kind']} {event.get('mac') or ''} {event.get('message') or ''}".lower()
        return all(word in haystack for word in self.filter_text.split())
