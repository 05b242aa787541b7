"""The Rollouts tab: every rollout, and the chosen one wave by wave and station by station, live; its actions."""

from __future__ import annotations

import contextlib
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.timer import Timer
from textual.widgets import DataTable, Static

from appliance.contract.client import AdminClient, AdminError
from appliance.contract.shapes import Rollout, RolloutPlan, RolloutStation, RolloutSummary
from tui.catchup import Refetch
from tui.dialogs import Choose, Confirm, one_at_a_time
from tui.livetable import LiveTable
from tui.rollout_form import StartRollout
from tui.rollout_text import STATION_STYLE, WORDS, cancel_words, counts, rollout_words, state_text

# Many stations move at once in a wave: the view fetches the rollout again at most this often.
REFETCH_S = 0.3
_LIST_COLUMNS = (
    ("id", "ID"),
    ("name", "Name"),
    ("chip", "Chip"),
    ("state", "State"),
    ("wave", "Wave"),
    ("counts", "Stations"),
)


class RolloutsView(Vertical):
    """The rollouts list on top, the chosen rollout below; N starts one, p r x b a steer it."""

    BINDINGS = [
        Binding("N", "start", "New rollout", tooltip="Roll an image out, wave by wave"),
        Binding("p", "pause", "Pause", tooltip="Offer the image to no one new"),
        Binding("r", "resume", "Resume", tooltip="Carry on after a pause or a halt"),
        Binding("x", "cancel", "Cancel", tooltip="End the rollout where it is (asks first)"),
        Binding("b", "rollback", "Roll back", tooltip="Offer updated stations their previous image (asks first)"),
        Binding("a", "approve", "Approve", tooltip="Let critical stations be updated"),
    ]

    def __init__(self, client: AdminClient, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client = client
        self.rollouts: list[RolloutSummary] = []
        self.shown: Rollout | None = None  # the chosen rollout in full, as last fetched
        self._pending: Timer | None = None  # a fetch already asked for, not yet run
        self._refetch = Refetch(self, self._fetch_quietly, "rollouts-fetch")

    def compose(self) -> ComposeResult:
        listed = LiveTable(id="rollouts-table")
        listed.empty_text = "No rollouts yet: N starts one (an image, its stations, the waves)."
        yield listed
        yield Static(id="rollout-summary")
        yield LiveTable(id="rollout-stations")

    def on_mount(self) -> None:
        """Lay out the tables."""
        table = self.query_one("#rollouts-table", LiveTable)
        for key, label in _LIST_COLUMNS:
            table.add_column(label, key=key)
        stations = self.query_one("#rollout-stations", LiveTable)
        for key, label in (("wave", "Wave"), ("name", "Name"), ("state", "State"), ("why", "Why")):
            stations.add_column(label, key=key)

    @property
    def selected(self) -> int | None:
        """The id of the rollout under the cursor."""
        key = self.query_one("#rollouts-table", LiveTable).current_key()
        return None if key is None else int(key)

    def item_words(self) -> str | None:
        """The rollout under the cursor."""
        rollout = self.shown if self.shown is not None and self.shown["id"] == self.selected else None
        return None if rollout is None else f"rollout {rollout['id']} ({rollout_words(rollout)})"

    def reload(self) -> None:
        """Fetch everything again (at start and after a reconnect)."""
        self._refetch()

    def fetch_soon(self) -> None:
        """Fetch again shortly: what changes together (a wave of stations) is fetched once."""
        if self._pending is None:
            self._pending = self.set_timer(REFETCH_S, self._fetch_now)

    def _fetch_now(self) -> None:
        self._pending = None
        self._refetch()

    def apply_event(self, payload: dict[str, Any]) -> None:
        """A rollout event from the stream: a station's row changes at once, the rest is fetched again soon."""
        data = payload.get("data") or {}
        shown = self.shown
        if payload.get("kind") == "rollout_station" and shown is not None and data.get("rollout") == shown["id"]:
            for station in shown["stations"]:
                if station["mac"] == payload.get("mac"):
                    station["state"] = data.get("state", station["state"])
                    station["reason"] = data.get("reason", station["reason"])
                    station["hold"] = data.get("hold", station["hold"])
                    station["outcome"] = data.get("outcome", station["outcome"])
                    station["wave"] = data.get("wave", station["wave"])
                    self._update_station(station)
        self.fetch_soon()

    async def _fetch_quietly(self) -> None:
        # A lost link is the banner's to tell; the next event, or the reconnect, fetches again.
        with contextlib.suppress(AdminError):
            await self._fetch()

    async def _fetch(self) -> None:
        self.rollouts = await self.client.rollouts()
        self._show_list()
        chosen = self.selected
        self.shown = await self.client.rollout(chosen) if chosen is not None else None
        self._show_rollout()

    def _show_list(self) -> None:
        self.query_one("#rollouts-table", LiveTable).show_rows(
            [
                (
                    str(r["id"]),
                    {
                        "id": str(r["id"]),
                        "name": r["name"],
                        "chip": r["image"].get("chip") or "?",
                        "state": state_text(r["state"]),
                        "wave": f"{r['current_wave']}/{r['wave_count']}",
                        "counts": counts(r["counts"]),
                    },
                )
                for r in self.rollouts
            ]
        )

    def _show_rollout(self) -> None:
        summary = self.query_one("#rollout-summary", Static)
        stations = self.query_one("#rollout-stations", LiveTable)
        r = self.shown
        if not r:
            stations.show_rows([])
            summary.update("")
            return
        text = Text.assemble((f"rollout {r['id']}  ", "bold"), f"{rollout_words(r)}  ", state_text(r["state"]))
        if r["reason"]:
            text.append(f"\n{r['reason']}", style="yellow" if r["state"] in ("halted", "running") else "")
        for wave in r["waves"]:
            size = f"{wave['size']:>3} station(s)"
            text.append(f"\nwave {wave['wave']}: {wave['state']:<12} {size}  {counts(wave['counts'])}")
        summary.update(text)
        stations.show_rows([(s["mac"], self._cells(s)) for s in r["stations"]])

    def _update_station(self, station: RolloutStation) -> None:
        self.query_one("#rollout-stations", LiveTable).set_cells(station["mac"], self._cells(station))

    @staticmethod
    def _cells(station: RolloutStation) -> dict[str, Any]:
        word = WORDS.get(station["state"], station["state"])
        if station.get("direction") == "back" and station["state"] not in ("rolled_back", "failed", "timed_out"):
            word += " (back)"
        if station.get("critical"):
            word += " ✓" if station.get("approved") else " (critical)"
        why = station.get("hold") if station["state"] == "queued" and station.get("hold") else station.get("reason")
        return {
            "wave": str(station["wave"]),
            "name": station["name"],
            "state": Text(word, style=STATION_STYLE.get(station["state"], "")),
            "why": why or "",
        }

    @on(DataTable.RowHighlighted, "#rollouts-table")
    def _chosen(self, event: DataTable.RowHighlighted) -> None:
        shown_id = None if self.shown is None else self.shown["id"]
        if event.row_key.value is not None and str(event.row_key.value) != str(shown_id):
            self.fetch_soon()

    @on(DataTable.RowSelected, "#rollout-stations")
    def _station_opened(self, event: DataTable.RowSelected) -> None:
        # Enter on a station of the rollout: the station in full (its whole reason, its history).
        opener = getattr(self.app, "open_station", None)
        if event.row_key.value is not None and callable(opener):
            opener(str(event.row_key.value))

    async def _act(self, call: Any, done: str) -> None:
        try:
            self.shown = await call
        except AdminError as exc:
            self.notify(exc.message, title="Refused", severity="error", timeout=10)
            return
        self.notify(done)
        self._show_rollout()
        self.fetch_soon()

    def _chosen_rollout(self, verb: str) -> Rollout | None:
        """The rollout under the cursor as last fetched in full, or None after saying why nothing happens."""
        rollout = self.selected
        if rollout is None:
            self.notify(f"no rollout to {verb}: N starts one", severity="warning")
            return None
        if self.shown is None or self.shown["id"] != rollout:
            self.notify(f"rollout {rollout} is still being fetched: press again in a moment", severity="warning")
            self.fetch_soon()
            return None
        return self.shown

    @one_at_a_time("rollout-action")
    async def action_start(self) -> None:
        """Choose an image, the stations and the waves, review the plan, and start; the cursor goes to it."""
        try:
            images = await self.client.images()
        except AdminError as exc:
            self.notify(exc.message, title="Refused", severity="error")
            return
        if not images:
            self.notify("no firmware in the library: import an image first (f, then i)", severity="warning")
            return

        async def planner(request: dict[str, Any]) -> RolloutPlan:
            body = dict(request)
            return await self.client.plan_rollout(body.pop("image"), **body)

        request = await self.app.push_screen_wait(StartRollout(images, planner))
        if request is None:
            return
        image = request.pop("image")
        try:
            started = await self.client.start_rollout(image, **request)
        except AdminError as exc:
            self.notify(exc.message, title="Refused", severity="error", timeout=10)
            return
        # The cursor and the detail go to the new rollout: p, x, b and a act on it next.
        self.shown = started
        self.query_one("#rollouts-table", LiveTable).go_to_when_shown(str(started["id"]))
        self._show_rollout()
        self.notify(f"rollout {started['id']} ({rollout_words(started)}) started")
        self.reload()

    @one_at_a_time("rollout-action")
    async def action_pause(self) -> None:
        """Pause the chosen rollout."""
        if (rollout := self._chosen_rollout("pause")) is not None:
            call = self.client.rollout_action(rollout["id"], "pause")
            await self._act(call, f"rollout {rollout['id']} ({rollout_words(rollout)}) paused")

    @one_at_a_time("rollout-action")
    async def action_resume(self) -> None:
        """Resume the chosen rollout (after a halt, that accepts the failures of the halted wave)."""
        if (rollout := self._chosen_rollout("resume")) is not None:
            call = self.client.rollout_action(rollout["id"], "resume")
            await self._act(call, f"rollout {rollout['id']} ({rollout_words(rollout)}) resumed")

    @one_at_a_time("rollout-action")
    async def action_cancel(self) -> None:
        """Cancel the chosen rollout, after confirmation that says what becomes of its stations."""
        rollout = self._chosen_rollout("cancel")
        if rollout is None:
            return
        question, detail = cancel_words(rollout)
        if await self.app.push_screen_wait(Confirm(question, detail, yes="Cancel it")):
            call = self.client.rollout_action(rollout["id"], "cancel")
            await self._act(call, f"rollout {rollout['id']} ({rollout_words(rollout)}) cancelled")

    @one_at_a_time("rollout-action")
    async def action_rollback(self) -> None:
        """Roll the chosen rollout back, after confirmation."""
        rollout = self._chosen_rollout("roll back")
        if rollout is None:
            return
        moved = sum(1 for s in rollout.get("stations", []) if s["state"] not in ("queued", "rolled_back"))
        question = f"Roll back rollout {rollout['id']} ({rollout_words(rollout)})?"
        detail = (
            f"The {moved} station(s) it offered the image are offered their previous image, with the same care"
            " (waves, soak, signal); the stations it never reached keep what they run."
        )
        if await self.app.push_screen_wait(Confirm(question, detail, yes="Roll back")):
            call = self.client.rollout_action(rollout["id"], "rollback")
            await self._act(call, f"rollout {rollout['id']} ({rollout_words(rollout)}) rolling back")

    @one_at_a_time("rollout-action")
    async def action_approve(self) -> None:
        """Approve one critical station of the chosen rollout, or all of them."""
        rollout = self._chosen_rollout("approve")
        if rollout is None:
            return
        waiting = [s for s in rollout.get("stations", []) if s.get("critical") and not s.get("approved")]
        if not waiting:
            self.notify(f"no critical station of rollout {rollout['id']} waits for approval")
            return
        options = [("*", f"every critical station ({len(waiting)})")]
        options += [(s["mac"], f"{s['name']}  {s['mac']}") for s in waiting]
        chosen = await self.app.push_screen_wait(
            Choose(f"Let which critical station take {rollout_words(rollout)} (rollout {rollout['id']})?", options)
        )
        if chosen:
            stations = None if chosen == "*" else [chosen]
            await self._act(self.client.approve_rollout(rollout["id"], stations), "approved")
