"""The claim road: stations that checked in without a token, waiting for the admin's word."""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable

from appliance.contract.client import AdminError
from tui.dialogs import Confirm
from tui.onboarding.road import Road
from tui.states import ago


class PendingTable(DataTable[Any]):
    """Pending stations with what they sent; a accepts, x rejects."""

    BINDINGS = [
        Binding("a", "accept", "Accept", tooltip="Let it in: it gets its token at its next check-in"),
        Binding("x", "reject", "Reject", tooltip="Turn it away (asks first)"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)

    def on_mount(self) -> None:
        """Lay out the columns."""
        self.add_columns("MAC", "Chip", "Project", "Version", "IP", "Seen")

    def selected(self) -> str | None:
        """The MAC under the cursor."""
        if not self.row_count:
            return None
        value = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return None if value is None else str(value)

    def action_accept(self) -> None:
        """Accept the selected station."""
        road = self.parent
        if isinstance(road, ClaimRoad):
            road.decide("accept")

    def action_reject(self) -> None:
        """Reject the selected station."""
        road = self.parent
        if isinstance(road, ClaimRoad):
            road.decide("reject")


class ClaimRoad(Road):
    """Accept or reject what checks in on its own (STA1, a generic build, a device re-flashed elsewhere)."""

    TITLE = "Claim"
    SUMMARY = "A station that already knows the Wi-Fi checks in without a token and waits here. a accepts, x rejects."
    EVENTS = ("station_discovered", "station_accepted", "station_rejected", "station_retired", "station_arrived")

    def compose(self) -> ComposeResult:
        """Header and the pending list."""
        yield from super().compose()
        yield PendingTable(id="claim-table")

    def on_mount(self) -> None:
        """Load at once."""
        self.reload()

    async def load(self) -> None:
        """Fetch the pending stations."""
        try:
            stations = [s for s in await self.client.stations() if s["status"] == "pending"]
        except AdminError:
            return
        table = self.query_one(PendingTable)
        current = table.selected()
        table.clear()
        for s in stations:
            table.add_row(
                s["mac"],
                s["chip"] or "?",
                s["project"] or "-",
                s["version"] or "-",
                s["ip"] or "-",
                ago(s["last_seen_at"]),
                key=s["mac"],
            )
        if current is not None and current in [s["mac"] for s in stations]:
            table.move_cursor(row=table.get_row_index(current))

    @work(group="claim-action", exit_on_error=False)
    async def decide(self, verb: str) -> None:
        """Accept or (after confirmation) reject the selected pending station."""
        mac = self.query_one(PendingTable).selected()
        if mac is None:
            return
        if verb == "reject" and not await self.app.push_screen_wait(Confirm(f"Reject {mac}? It will be turned away.")):
            return
        try:
            station = await (self.client.accept(mac) if verb == "accept" else self.client.reject(mac))
        except AdminError as exc:
            self.notify(exc.message, title="Refused", severity="error")
            return
        self.notify(f"{station['name']} ({mac}) {station['status']}")
        self.reload()
