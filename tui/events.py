"""The event log: live, newest first, filterable by any word; Enter shows an event whole."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.catchup import SinceSnapshot
from tui.livetable import LiveTable

MAX_ROWS = 500
NO_EVENTS = "No events yet: every change and every download will be listed here as it happens."
StationName = Callable[[str], str | None]


class EventsTable(LiveTable):
    """Stored events as they happen (live check-ins are left to the stations view), keyed by event id.

    New events go on top; the cursor stays on the event it was on, and while the admin browses further
    down the rows on screen stay put.
    """

    BINDINGS = [Binding("enter", "open_event", "Open", tooltip="The event in full: its whole message and data")]

    def __init__(self, station_name: StationName | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.station_name = station_name or (lambda mac: None)
        self.events: list[dict[str, Any]] = []
        self.filter_text = ""
        self.since_snapshot: SinceSnapshot[Any, dict[str, Any]] = SinceSnapshot()  # by event id
        self._stale = False  # rows differ from `events`: redrawn when next shown, at most once per refresh
        self.empty_text = NO_EVENTS

    def on_mount(self) -> None:
        """Lay out the columns."""
        for key, label in (("time", "Time"), ("kind", "Kind"), ("station", "Station"), ("message", "Message")):
            self.add_column(label, key=key)

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
        """Show only events containing every word of `text` (station names included)."""
        self.filter_text = text.strip().lower()
        self.empty_text = (
            f'No event matches "{text.strip()}" (Esc clears the filter).' if self.filter_text else NO_EVENTS
        )
        self._rebuild()

    def refresh_names(self) -> None:
        """Station names changed (a rename): the Station column follows."""
        for event in self.events:
            if str(event["id"]) in self._shown:
                self.set_cells(str(event["id"]), {"station": self._station(event)})

    def item_words(self) -> str | None:
        """The event under the cursor."""
        event = self.selected()
        return None if event is None else f"event {event['id']} ({event['kind']})"

    def selected(self) -> dict[str, Any] | None:
        """The event under the cursor, if any."""
        key = self.current_key()
        return next((e for e in self.events if str(e["id"]) == key), None)

    def action_open_event(self) -> None:
        """Show the event under the cursor whole."""
        event = self.selected()
        if event is not None:
            self.app.push_screen(EventScreen(event, self._station(event)))

    def _redraw_if_shown(self) -> None:
        if self._stale and self.is_on_screen:
            self._rebuild()

    def _rebuild(self) -> None:
        self._stale = False
        self.show_rows(
            [
                (
                    str(event["id"]),
                    {
                        "time": time.strftime("%m-%d %H:%M:%S", time.localtime(event["at"])),
                        "kind": event["kind"],
                        "station": self._station(event),
                        "message": event.get("message") or "",
                    },
                )
                for event in self.events
                if self._visible(event)
            ]
        )

    def _station(self, event: dict[str, Any]) -> str:
        mac = event.get("mac")
        return "" if not mac else self.station_name(str(mac)) or str(mac)

    def _visible(self, event: dict[str, Any]) -> bool:
        haystack = f"{event['kind']} {event.get('mac') or ''} {self._station(event)} {event.get('message') or ''}"
        return all(word in haystack.lower() for word in self.filter_text.split())


class EventScreen(ModalScreen[None]):
    """One event in full: when, what, which station (name and MAC), its whole message and its data."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Close"), Binding("enter", "dismiss(None)", "Close")]

    def __init__(self, event: dict[str, Any], station: str) -> None:
        super().__init__()
        self.event = event
        self.station = station

    def compose(self) -> ComposeResult:
        event = self.event
        text = Text.assemble(
            (f"{event['kind']}", "bold"),
            f"  event {event['id']}, {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(event['at']))}\n",
        )
        if event.get("mac"):
            text.append(f"station {self.station} ({event['mac']})\n")
        text.append(f"\n{event.get('message') or ''}\n")
        if event.get("data"):
            text.append(f"\n{json.dumps(event['data'], indent=2, sort_keys=True)}", style="dim")
        with Vertical(classes="dialog"):
            with VerticalScroll(classes="dialog-text"):
                yield Static(text, classes="detail")
            yield Static("Esc or Enter closes", classes="hint")
