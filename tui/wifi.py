"""The Wi-Fi tab: the site's networks (passphrases masked until revealed) and each station's standing."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from appliance.contract.client import AdminClient, AdminError
from appliance.contract.events import family, kinds
from tui.catchup import Refetch
from tui.dialogs import Confirm, field, one_at_a_time
from tui.livetable import LiveTable
from tui.states import ago

MASK = "••••••••"
REVEAL_FOR_S = 30.0  # a revealed passphrase hides itself again: the screen may be shared
RELOAD_AFTER_S = 0.5  # a rotation brings one event per station: redraw once for a burst of them
WIFI_EVENTS = family("wifi_", "bundle_") | kinds(
    "station_accepted", "station_rejected", "station_retired", "station_arrived"
)


class NetworksTable(LiveTable):
    """The site's networks; a adds, d drops, v reveals (or hides) the passphrase."""

    KEYS_TITLE = "Wi-Fi networks"  # what `?` calls this list

    BINDINGS = [
        Binding("a", "add", "Add network"),
        Binding("d", "drop", "Drop network", tooltip="Only once every station holds the others (or you insist)"),
        Binding("v", "reveal", "Reveal", tooltip="Show or hide the selected passphrase"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.empty_text = "The site has no Wi-Fi network yet: a adds one (accepted stations get it in their config)."

    def on_mount(self) -> None:
        """Lay out the columns."""
        self.lay_out(
            (
                ("ssid", "SSID"),
                ("priority", "Priority"),
                ("psk", "Passphrase"),
                ("flags", "Flags"),
                ("droppable", "May be dropped"),
            )
        )

    def item_words(self) -> str | None:
        """The network under the cursor."""
        return self.current_key()

    def action_add(self) -> None:
        """Add a network."""
        self._pane().add_network()

    def action_drop(self) -> None:
        """Drop the selected network."""
        self._pane().drop_network()

    def action_reveal(self) -> None:
        """Reveal or hide the selected passphrase."""
        self._pane().toggle_reveal()

    def _pane(self) -> WifiPane:
        for node in self.ancestors:
            if isinstance(node, WifiPane):
                return node
        raise RuntimeError("a NetworksTable lives in a WifiPane")


class WifiPane(Vertical):
    """Networks above, rotation progress per station below."""

    DEFAULT_CSS = """
    WifiPane #wifi-table { height: auto; max-height: 10; }
    WifiPane #rotation-summary { margin: 1 0 0 0; text-style: bold; }
    WifiPane #rotation-table { height: 1fr; }
    """

    def __init__(self, client: AdminClient, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client = client
        self.rotation: dict[str, Any] = {}
        self._refetch = Refetch(self, self._fetch, "wifi")
        self.revealed: dict[str, str] = {}
        self._reload_pending = False

    def compose(self) -> ComposeResult:
        """The two tables."""
        yield NetworksTable(id="wifi-table")
        yield Static(id="rotation-summary")
        yield LiveTable(id="rotation-table")

    def on_mount(self) -> None:
        """Lay out and load."""
        self.query_one("#rotation-table", LiveTable).lay_out(
            (
                ("station", "Station"),
                ("mac", "MAC"),
                ("standing", "Wi-Fi list"),
                ("holds", "Holds"),
                ("etag", "ETag"),
                ("seen", "Seen"),
            )
        )
        self.reload()

    def route(self, kind: str) -> None:
        """An event happened: reload soon if it concerns the site's Wi-Fi (bursts make one reload)."""
        if kind in WIFI_EVENTS and not self._reload_pending:
            self._reload_pending = True
            self.set_timer(RELOAD_AFTER_S, self.reload)

    def reload(self) -> None:
        """Fetch the networks and the rotation (asks during a fetch fold into one more)."""
        self._refetch()

    async def _fetch(self) -> None:
        self._reload_pending = False
        try:
            self.rotation = await self.client.wifi_rotation()
        except AdminError:
            return
        self._draw()

    def _draw(self) -> None:
        rows = []
        for n in self.rotation.get("networks", []):
            psk = Text("open", style="yellow") if n["open"] else Text(self.revealed.get(n["ssid"], MASK))
            flags = ", ".join(w for w, on in (("hidden", n["hidden"]), ("fallback", n["fallback"])) if on) or "-"
            if n["last"]:
                droppable = Text("last network", style="yellow")
            elif n["blocked_by"]:
                droppable = Text(f"not yet: {len(n['blocked_by'])} station(s) lack the others", style="red")
            else:
                droppable = Text("yes", style="green")
            cells = {"ssid": n["ssid"], "priority": str(n["priority"]), "psk": psk, "flags": flags}
            rows.append((n["ssid"], {**cells, "droppable": droppable}))
        self.query_one(NetworksTable).show_rows(rows)
        behind = self.rotation.get("behind", [])
        summary = (
            ""
            if not self.rotation.get("networks")
            else "Every station holds every network."
            if not behind
            else f"{len(behind)} station(s) lack a network: {', '.join(behind[:8])}{' …' if len(behind) > 8 else ''}"
        )
        self.query_one("#rotation-summary", Static).update(summary)
        self.query_one("#rotation-table", LiveTable).show_rows(
            [
                (
                    s["mac"] or f"awaiting:{s['name']}",
                    {
                        "station": s["name"],
                        "mac": s["mac"] or "(awaiting)",
                        "standing": standing(s),
                        "holds": ", ".join(s["holds"]) or "-",
                        "etag": "yes" if s["reports_config_etag"] else "never",
                        "seen": ago(s["last_seen_at"]),
                    },
                )
                for s in self.rotation.get("stations", [])
            ]
        )

    @one_at_a_time("wifi-action")
    async def add_network(self) -> None:
        """Ask for a network and add it."""
        form = await self.app.push_screen_wait(AddNetwork())
        if form is None:
            return
        try:
            added = await self.client.add_wifi(**form)
        except AdminError as exc:
            self.notify(exc.message, title="Refused", severity="error", timeout=10)
            return
        self.notify(f"added {added['ssid']}: every accepted station will fetch it")
        self.reload()

    @one_at_a_time("wifi-action")
    async def drop_network(self) -> None:
        """Drop the selected network; when stations are not ready, say who and offer to insist."""
        ssid = self.query_one(NetworksTable).selected()
        if ssid is None:
            self.notify("no network to drop", severity="warning")
            return
        question = f"Drop {ssid} from every station's list?"
        detail = "Each accepted station fetches its new list at its next check-in."
        if not await self.app.push_screen_wait(Confirm(question, detail, yes="Drop")):
            return
        try:
            await self.client.remove_wifi(ssid)
        except AdminError as exc:
            if exc.code != "conflict" or not await self.app.push_screen_wait(
                Confirm(f"Drop {ssid} anyway?", exc.message, yes="Drop anyway")
            ):
                self.notify(exc.message, title="Kept", severity="warning", timeout=10)
                return
            try:
                await self.client.remove_wifi(ssid, override=True)
            except AdminError as again:
                self.notify(again.message, title="Refused", severity="error")
                return
        self.revealed.pop(ssid, None)
        self.notify(f"dropped {ssid}")
        self.reload()

    @one_at_a_time("wifi-action")
    async def toggle_reveal(self) -> None:
        """Show the selected passphrase for a while, or hide it again."""
        ssid = self.query_one(NetworksTable).selected()
        if ssid is None:
            self.notify("no network to reveal", severity="warning")
            return
        if ssid in self.revealed:
            self.revealed.pop(ssid)
        else:
            try:
                self.revealed[ssid] = await self.client.reveal_wifi(ssid)
            except AdminError as exc:
                self.notify(exc.message, title="Refused", severity="error")
                return
            self.set_timer(REVEAL_FOR_S, lambda: self._hide(ssid))
        self._draw()

    def _hide(self, ssid: str) -> None:
        if self.revealed.pop(ssid, None) is not None:
            self._draw()


def standing(station: dict[str, Any]) -> Text:
    """Up to date; fetched but not yet acknowledged (applied and reported); or lacking networks."""
    lacks = station["lacks"]
    if not lacks:
        return Text("up to date", style="green")
    if all(ssid in station["fetched"] for ssid in lacks):
        return Text("fetched, not applied", style="yellow")
    return Text("lacks " + ", ".join(lacks), style="red")


class AddNetwork(ModalScreen[dict[str, Any] | None]):
    """SSID, passphrase (typed masked), priority and flags."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Add a site network")
            yield field("SSID", Input(id="wifi-ssid"))
            yield field("Passphrase", Input(placeholder="typed masked", password=True, id="wifi-psk"))
            yield field("Priority", Input(placeholder="0-100, higher is tried first", value="0", id="wifi-priority"))
            yield Checkbox("hidden (not broadcast)", id="wifi-hidden", compact=True)
            yield Checkbox("fallback (only when no other network can be joined)", id="wifi-fallback", compact=True)
            yield Checkbox("open network (no passphrase)", id="wifi-open", compact=True)
            with Horizontal(classes="buttons"):
                yield Button("Add", id="add", variant="primary", compact=True)
                yield Button("Cancel (Esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        """Type the SSID straight away."""
        self.set_focus(self.query_one("#wifi-ssid", Input))

    @on(Input.Submitted, "#wifi-ssid")
    def _next(self) -> None:
        self.set_focus(self.query_one("#wifi-psk", Input))

    @on(Input.Submitted, "#wifi-psk, #wifi-priority")
    def _submitted(self) -> None:
        self._finish()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "add":
            self._finish()
        else:
            self.dismiss(None)

    def _finish(self) -> None:
        ssid = self.query_one("#wifi-ssid", Input).value
        psk = self.query_one("#wifi-psk", Input).value
        is_open = self.query_one("#wifi-open", Checkbox).value
        priority = self.query_one("#wifi-priority", Input).value.strip() or "0"
        if not ssid or (not psk and not is_open) or not priority.isdigit():
            self.notify("an SSID, a passphrase (or tick open) and a priority from 0 to 100", severity="warning")
            return
        self.dismiss(
            {
                "ssid": ssid,
                "psk": "" if is_open else psk,
                "priority": int(priority),
                "hidden": self.query_one("#wifi-hidden", Checkbox).value,
                "fallback": self.query_one("#wifi-fallback", Checkbox).value,
            }
        )
