"""The claim road: stations that checked in without a token, waiting for the admin's word."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding

from appliance.contract.client import AdminError
from appliance.contract.events import kinds
from tui.dialogs import Confirm, one_at_a_time
from tui.livetable import LiveTable
from tui.onboarding.road import Road
from tui.states import ago


class PendingTable(LiveTable):
    """Pending stations with what they sent; a accepts, x rejects."""

    KEYS_TITLE = "Claim"  # what `?` calls this list

    BINDINGS = [
        Binding("a", "accept", "Accept", tooltip="Let it in: it gets its token at its next check-in"),
        Binding("x", "reject", "Reject", tooltip="Turn it away (asks first)"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.names: dict[str, str] = {}
        self.empty_text = "No station waits to be claimed: one that checks in without a token shows up here."

    def on_mount(self) -> None:
        """Lay out the columns."""
        self.lay_out(
            (("name", "Name"), ("mac", "MAC"), ("chip", "Chip"), ("version", "Version"), ("ip", "IP"), ("seen", "Seen"))
        )

    def item_words(self) -> str | None:
        """The station under the cursor, by name and MAC."""
        mac = self.current_key()
        return None if mac is None else f"{self.names.get(mac, mac)} ({mac})"

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
    EVENTS = kinds("station_discovered", "station_accepted", "station_rejected", "station_retired", "station_arrived")

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
        table.names = {s["mac"]: s["name"] for s in stations}
        table.show_rows(
            [
                (
                    s["mac"],
                    {
                        "name": s["name"],
                        "mac": s["mac"],
                        "chip": s["chip"] or "?",
                        "version": s["version"] or "-",
                        "ip": s["ip"] or "-",
                        "seen": ago(s["last_seen_at"]),
                    },
                )
                for s in stations
            ]
        )

    @one_at_a_time("claim-action")
    async def decide(self, verb: str) -> None:
        """Accept or (after confirmation) reject the selected pending station."""
        table = self.query_one(PendingTable)
        mac, who = table.current_key(), table.item_words()
        if mac is None:
            self.notify(f"no pending station to {verb}", severity="warning")
            return
        question, detail = f"Reject {who}?", "It is turned away at its next check-in, and from then on."
        if verb == "reject" and not await self.app.push_screen_wait(Confirm(question, detail, yes="Reject")):
            return
        try:
            station = await (self.client.accept(mac) if verb == "accept" else self.client.reject(mac))
        except AdminError as exc:
            self.notify(exc.message, title="Refused", severity="error")
            return
        self.notify(f"{station['name']} ({mac}) {station['status']}")
        self.reload()
