"""The Rollouts tab: every rollout, and the chosen one wave by wave and station by station, live; its actions."""

from __future__ import annotations

import contextlib
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.timer import Timer
from textual.widgets import DataTable, Static

from appliance.contract.client import AdminClient, AdminError
from tui.catchup import Refetch
from tui.dialogs import Choose, Confirm
from tui.rollout_form import StartRollout

# Many stations move at once in a wave: the view fetches the rollout again at most this often.
REFETCH_S = 0.3
_STYLE = {"updated": "green", "rolled_back": "cyan", "failed": "bold red", "timed_out": "red", "queued": "dim"}
_LIST_COLUMNS = (
    ("id", "ID"),
    ("name", "Name"),
    ("chip", "Chip"),
    ("state", "State"),
    ("wave", "Wave"),
    ("counts", "Stations"),
)
_WORDS = {"timed_out": "timed out", "rolled_back": "rolled back", "rolling_back": "rolling back"}


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
        self.rollouts: list[dict[str, Any]] = []
        self.shown: dict[str, Any] = {}  # the chosen rollout in full, as last fetched
        self._pending: Timer | None = None  # a fetch already asked for, not yet run
        self._refetch = Refetch(self, self._fetch_quietly, "rollouts-fetch")

    def compose(self) -> ComposeResult:
        yield DataTable(id="rollouts-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="rollout-summary")
        yield DataTable(id="rollout-stations", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        """Lay out the tables."""
        table = self.query_one("#rollouts-table", DataTable)
        for key, label in _LIST_COLUMNS:
            table.add_column(label, key=key)
        stations = self.query_one("#rollout-stations", DataTable)
        for key, label in (("wave", "Wave"), ("name", "Name"), ("state", "State"), ("why", "Why")):
            stations.add_column(label, key=key)

    @property
    def selected(self) -> int | None:
        """The id of the rollout under the cursor."""
        table = self.query_one("#rollouts-table", DataTable)
        if not table.row_count:
            return None
        value = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return None if value is None else int(value)

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
        if payload.get("kind") == "rollout_station" and data.get("rollout") == self.shown.get("id"):
            for station in self.shown.get("stations", []):
                if station["mac"] == payload.get("mac"):
                    station.update({k: data[k] for k in ("state", "reason", "hold", "outcome") if k in data})
                    station["wave"] = data.get("wave", station["wave"])
                    self._update_station(station)
        self.fetch_soon()

    async def _fetch_quietly(self) -> None:
        # A lost link is the banner's to tell; the next event, or the reconnect, fetches again.
        with contextlib.suppress(AdminError):
            await self._fetch()

    async def _fetch(self) -> None:
        self.rollouts = await self.client.rollouts()
        chosen = self.selected
        self._show_list()
        if chosen is None and self.rollouts:
            chosen = int(self.rollouts[0]["id"])
        self.shown = await self.client.rollout(chosen) if chosen is not None else {}
        self._show_rollout()

    def _show_list(self) -> None:
        table = self.query_one("#rollouts-table", DataTable)
        current = self.selected
        table.clear()
        for r in self.rollouts:
            table.add_row(
                str(r["id"]),
                r["name"],
                r["image"].get("chip") or "?",
                _state_text(r["state"]),
                f"{r['current_wave']}/{r['wave_count']}",
                counts(r["counts"]),
                key=str(r["id"]),
            )
        if current is not None and str(current) in table.rows:
            table.move_cursor(row=table.get_row_index(str(current)))

    def _show_rollout(self) -> None:
        summary = self.query_one("#rollout-summary", Static)
        stations = self.query_one("#rollout-stations", DataTable)
        r = self.shown
        if not r:
            stations.clear()
            summary.update("No rollouts yet: N starts one (an image, its stations, the waves).")
            return
        image = r["image"]
        text = Text.assemble(
            (f"rollout {r['id']}  ", "bold"),
            f"{image.get('project') or ''} {image.get('version') or image['sha256'][:12]} for {image.get('chip')}  ",
            _state_text(r["state"]),
        )
        if r.get("reason"):
            text.append(f"\n{r['reason']}", style="yellow" if r["state"] in ("halted", "running") else "")
        for wave in r.get("waves", []):
            size = f"{wave['size']:>3} station(s)"
            text.append(f"\nwave {wave['wave']}: {wave['state']:<12} {size}  {counts(wave['counts'])}")
        summary.update(text)
        rows = r.get("stations", [])
        if [str(key.value) for key in stations.rows] == [s["mac"] for s in rows]:
            # The same stations (a wave moved on): their cells change, the cursor and the scroll stay.
            for station in rows:
                self._update_station(station)
            return
        stations.clear()
        for station in rows:
            stations.add_row(*self._cells(station), key=station["mac"])

    def _update_station(self, station: dict[str, Any]) -> None:
        table = self.query_one("#rollout-stations", DataTable)
        if station["mac"] not in table.rows:
            return
        for key, value in zip(("wave", "name", "state", "why"), self._cells(station), strict=True):
            if _plain(table.get_cell(station["mac"], key)) != _plain(value):
                table.update_cell(station["mac"], key, value)

    @staticmethod
    def _cells(station: dict[str, Any]) -> tuple[str, str, Text, str]:
        word = _WORDS.get(station["state"], station["state"])
        if station.get("direction") == "back" and station["state"] not in ("rolled_back", "failed", "timed_out"):
            word += " (back)"
        if station.get("critical"):
            word += " ✓" if station.get("approved") else " (critical)"
        why = station.get("hold") if station["state"] == "queued" and station.get("hold") else station.get("reason")
        return str(station["wave"]), station["name"], Text(word, style=_STYLE.get(station["state"], "")), why or ""

    @on(DataTable.RowHighlighted, "#rollouts-table")
    def _chosen(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None and str(event.row_key.value) != str(self.shown.get("id")):
            self.fetch_soon()

    async def _act(self, call: Any, done: str) -> None:
        try:
            self.shown = await call
        except AdminError as exc:
            self.notify(exc.message, title="Refused", severity="error", timeout=10)
            return
        self.notify(done)
        self._show_rollout()
        self.fetch_soon()

    @work(group="rollout-action", exit_on_error=False)
    async def action_start(self) -> None:
        """Choose an image, the stations and the waves, and start."""
        images = await self.client.images()
        if not images:
            self.notify("no firmware in the library: import an image first (f, then i)", severity="warning")
            return
        request = await self.app.push_screen_wait(StartRollout(images))
        if request is None:
            return
        image = request.pop("image")
        await self._act(self.client.start_rollout(image, **request), "rollout started")
        self.query_one("#rollouts-table", DataTable).move_cursor(row=0)

    @work(group="rollout-action", exit_on_error=False)
    async def action_pause(self) -> None:
        """Pause the chosen rollout."""
        if (rollout := self.selected) is not None:
            await self._act(self.client.rollout_action(rollout, "pause"), f"rollout {rollout} paused")

    @work(group="rollout-action", exit_on_error=False)
    async def action_resume(self) -> None:
        """Resume the chosen rollout (after a halt, that accepts the failures of the halted wave)."""
        if (rollout := self.selected) is not None:
            await self._act(self.client.rollout_action(rollout, "resume"), f"rollout {rollout} resumed")

    @work(group="rollout-action", exit_on_error=False)
    async def action_cancel(self) -> None:
        """Cancel the chosen rollout, after confirmation."""
        rollout = self.selected
        if rollout is not None and await self.app.push_screen_wait(
            Confirm(f"Cancel rollout {rollout}? Stations keep what they run; no more are offered the image.")
        ):
            await self._act(self.client.rollout_action(rollout, "cancel"), f"rollout {rollout} cancelled")

    @work(group="rollout-action", exit_on_error=False)
    async def action_rollback(self) -> None:
        """Roll the chosen rollout back, after confirmation."""
        rollout = self.selected
        if rollout is not None and await self.app.push_screen_wait(
            Confirm(f"Roll back rollout {rollout}? Every station it moved is offered its previous image.")
        ):
            await self._act(self.client.rollout_action(rollout, "rollback"), f"rollout {rollout} rolling back")

    @work(group="rollout-action", exit_on_error=False)
    async def action_approve(self) -> None:
        """Approve one critical station of the chosen rollout, or all of them."""
        rollout = self.selected
        if rollout is None:
            return
        waiting = [s for s in self.shown.get("stations", []) if s.get("critical") and not s.get("approved")]
        if not waiting:
            self.notify("no critical station of this rollout waits for approval")
            return
        options = [("*", f"every critical station ({len(waiting)})")]
        options += [(s["mac"], f"{s['name']}  {s['mac']}") for s in waiting]
        chosen = await self.app.push_screen_wait(Choose("Approve updating which critical station?", options))
        if chosen:
            stations = None if chosen == "*" else [chosen]
            await self._act(self.client.approve_rollout(rollout, stations), "approved")


def counts(by_state: dict[str, Any]) -> str:
    """'12 updated · 1 failed' in the order a person reads a rollout."""
    order = ("updated", "updating", "downloaded", "downloading", "initiated", "queued", "failed", "timed_out")
    known = [s for s in order if by_state.get(s)] + sorted(s for s in by_state if s not in order and by_state[s])
    return " · ".join(f"{by_state[s]} {_WORDS.get(s, s)}" for s in known) or "-"


def _plain(cell: object) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def _state_text(state: str) -> Text:
    style = {"halted": "bold red", "completed": "green", "paused": "yellow", "cancelled": "dim"}.get(state, "")
    return Text(_WORDS.get(state, state), style=style)
