"""What the TUI shows of the clock: the status line says whether it is synchronised; events keep their order."""

from __future__ import annotations

from typing import Any

from textual.app import App, ComposeResult

from tui.events import EventsTable
from tui.statusline import status_line

STATUS = {"started_at": 1_000.0, "version": "0.1.0", "station_url": "http://stationmaster.local:8080"}


def test_the_status_line_says_whether_the_clock_is_synchronised() -> None:
    synced = status_line({**STATUS, "clock": {"synchronised": True}}, {"online": 3}, 0, 1_000.0 + 7200)
    assert synced == "3 online · http://stationmaster.local:8080 · up 2.0 h · clock synced · v0.1.0"
    stale = status_line({**STATUS, "clock": {"synchronised": False}}, {"online": 3}, 2, 1_000.0)
    # Worst news first: on 80 columns the end of the line is what gets cut.
    assert stale.startswith("⚠ clock not synchronised · 2 alerts · 3 online")
    unknown = status_line({**STATUS, "clock": {"synchronised": None}}, {}, 0, 1_000.0)
    assert "clock sync unknown" in unknown


class EventLog(App[None]):
    """The event log alone."""

    def compose(self) -> ComposeResult:
        yield EventsTable(id="events-table")


def _event(event_id: int, at: float) -> dict[str, Any]:
    return {"id": event_id, "at": at, "kind": "note", "mac": None, "message": f"event {event_id}"}


async def test_events_keep_their_order_whatever_their_stamps_say() -> None:
    app = EventLog()
    async with app.run_test() as pilot:
        table = app.query_one(EventsTable)
        # After a step of the clock the stamps disagree with the order things happened in.
        table.load([_event(1, 300.0), _event(3, 100.0), _event(2, 200.0)])
        table.add_event(_event(4, 50.0))
        table.add_event(_event(0, 999.0))  # a late arrival of an older event goes where it belongs
        await pilot.pause()
        assert [e["id"] for e in table.events] == [4, 3, 2, 1, 0]
        drawn = [str(table.get_row_at(row)[3]) for row in range(table.row_count)]
        assert drawn == ["event 4", "event 3", "event 2", "event 1", "event 0"]
