"""The event log: live, newest first, filterable by any word."""

from __future__ import annotations

import time
from typing import Any

from textual.widgets import DataTable

MAX_ROWS = 500


class EventsTable(DataTable[Any]):
    """Stored events as they happen (live check-ins are left to the stations view)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.events: list[dict[str, Any]] = []
        self.filter_text = ""

    def on_mount(self) -> None:
        """Lay out the columns."""
        self.add_columns("Time", "Kind", "Station", "Message")

    def load(self, events: list[dict[str, Any]]) -> None:
        """Show these events (newest first)."""
        self.events = events[:MAX_ROWS]
        self._rebuild()

    def add_event(self, event: dict[str, Any]) -> None:
        """Put a new event on top."""
        self.events.insert(0, event)
        del self.events[MAX_ROWS:]
        if self._visible(event):
            self._rebuild()  # new rows go on top: a rebuild of at most MAX_ROWS rows, only when one arrives

    def set_filter(self, text: str) -> None:
        """Show only events containing every word of `text`."""
        self.filter_text = text.strip().lower()
        self._rebuild()

    def _rebuild(self) -> None:
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
