"""One station in full: identity, signal, uptime and heap history, restarts, commands, events, and its actions."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Label, Static

from appliance.contract.chips import CHIPS
from appliance.contract.client import AdminClient, AdminError
from appliance.contract.errors import NotFound
from appliance.contract.shapes import Checkin
from tui.catchup import Refetch
from tui.dialogs import Ask, Choose, Confirm, one_at_a_time
from tui.history import History, samples
from tui.keys import KeyBar
from tui.states import ago, state_label, station_state
from tui.station_commands import CommandActions


class StationScreen(CommandActions):
    """The detail of one station, with its actions (the commands come from CommandActions)."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("r", "rename", "Rename"),
        Binding("t", "tag", "Tag"),
        Binding("a", "accept", "Accept"),
        Binding("x", "reject", "Reject"),
        Binding("R", "retire", "Retire"),
        Binding("D", "delete", "Delete"),
        Binding("g", "assign", "Assign firmware"),
        Binding("b", "reboot", "Reboot"),
        Binding("U", "update_now", "Update now"),
        Binding("c", "refresh_config", "Refresh config"),
        Binding("i", "identify", "Identify"),
        Binding("k", "custom_command", "Command…"),
        Binding("C", "set_chip", "Set chip"),
        Binding("question_mark", "app.keys", "Keys"),
    ]
    KEYS_TITLE = "This station"

    def __init__(self, client: AdminClient, mac: str, poll_interval_s: float, then: str | None = None) -> None:
        super().__init__()
        self.client, self.mac, self.poll_interval_s = client, mac, poll_interval_s
        self.station: dict[str, Any] = {}
        self.then = then  # an action to run once the station is known (chosen in the palette)
        self._refetch = Refetch(self, self._fetch, "detail")

    def compose(self) -> ComposeResult:
        yield Static(id="banner")
        # Focused, so that PageDown, the arrows, Home and End scroll it from the start.
        with VerticalScroll(id="detail-scroll"):
            yield Static("fetching the station…", id="identity")
            yield Label("Signal (dBm), oldest on the left", classes="section")
            yield History(lambda v: f"{v:.0f} dBm", rows=3, id="rssi")
            yield Static(id="rssi-range")
            yield Label("Uptime (a drop is a restart)", classes="section")
            yield History(_hours, rows=2, id="uptime")
            yield Label("Free heap", classes="section")
            yield History(lambda v: f"{v / 1024:.0f} KiB", rows=2, id="heap")
            yield Static(id="uptime-range")
            yield Label("Restarts", classes="section")
            yield DataTable(id="restarts", cursor_type="none")
            yield Label("Commands", classes="section")
            yield DataTable(id="commands", cursor_type="none")
            yield Label("Events", classes="section")
            yield DataTable(id="station-events", cursor_type="none")
        yield KeyBar()

    def on_mount(self) -> None:
        """Lay out the tables and load."""
        self.query_one("#restarts", DataTable).add_columns("When", "Cause", "Code", "Firmware said", "Version")
        self.query_one("#commands", DataTable).add_columns("Queued", "Command", "State", "Result")
        self.query_one("#station-events", DataTable).add_columns("When", "Kind", "Message")
        self.query_one("#detail-scroll").focus()
        self.reload()

    @property
    def settled(self) -> bool:
        """True once the station is drawn with everything asked for so far (no fetch under way or due)."""
        return bool(self.station) and not self._refetch.busy

    def reload(self) -> None:
        """Fetch the station, its history and its events (asks during a fetch fold into one more)."""
        self._refetch()

    def show_banner(self, text: str) -> None:
        """The service is away: say so (the app hides it and reloads when the link is back)."""
        banner = self.query_one("#banner", Static)
        banner.update(text)
        banner.add_class("shown")

    def apply_checkin(self, payload: dict[str, Any]) -> None:
        """A live check-in of this station: its identity block follows at once."""
        if self.station:
            self.station.update({k: v for k, v in payload.items() if k not in ("id", "kind", "message", "at")})
            self.station["last_seen_at"] = payload.get("at", self.station.get("last_seen_at"))
            self._show_identity()

    def refresh_ages(self) -> None:
        """Time passed: 'last seen' and the state move on."""
        if self.station:
            self._show_identity()

    async def _fetch(self) -> None:
        try:
            self.station = dict(await self.client.station(self.mac))  # check-ins are folded into it
            history = list(reversed(await self.client.checkins(self.mac, limit=300)))
            events = await self.client.events(mac=self.mac, limit=50)
            restarts = await self.client.restarts(self.mac, limit=50)
            commands = await self.client.commands(station=self.mac, limit=20)
        except AdminError as exc:
            # Away: the banner says so and the app fetches again when the link is back; gone: say that.
            if isinstance(exc, NotFound):
                self.query_one("#identity", Static).update(f"no station {self.mac} any more")
            return
        self._show_identity()
        signal = [float(rssi) for h in history if (rssi := h["rssi"]) is not None]
        self.query_one("#rssi", History).show(signal)
        self.query_one("#rssi-range", Static).update(
            f"{samples(len(signal))}, {min(signal):.0f} to {max(signal):.0f} dBm, now {signal[-1]:.0f} dBm"
            if signal
            else "no history yet"
        )
        self._show_uptime_and_heap(history)
        table = self.query_one("#restarts", DataTable)
        table.clear()
        for restart in restarts:
            code = restart.get("reset_reason")
            table.add_row(
                ago(restart["at"]),
                restart["cause"],
                "-" if code is None else str(code),
                restart.get("firmware_cause") or "-",
                restart.get("version") or "-",
            )
        table = self.query_one("#commands", DataTable)
        table.clear()
        for command in commands:
            args = " ".join(f"{k}={v}" for k, v in sorted(command["args"].items()))
            table.add_row(
                ago(command["created_at"]),
                f"{command['kind']} {args}".strip(),
                command["state"],
                command.get("result") or "",
            )
        table = self.query_one("#station-events", DataTable)
        table.clear()
        for event in events:
            table.add_row(ago(event["at"]), event["kind"], event["message"])
        if self.then is not None:
            then, self.then = self.then, None
            self.call_later(self.run_action, then)

    def _show_uptime_and_heap(self, history: list[Checkin]) -> None:
        uptime = [float(up) for h in history if (up := h["uptime_s"]) is not None]
        heap = [float(free) for h in history if (free := h["free_heap"]) is not None]
        self.query_one("#uptime", History).show(uptime)
        self.query_one("#heap", History).show(heap)
        parts = [f"uptime up to {max(uptime) / 3600:.1f} h ({samples(len(uptime))})" if uptime else "no uptime history"]
        parts.append(f"free heap {min(heap):,.0f} to {max(heap):,.0f} bytes" if heap else "no heap history")
        self.query_one("#uptime-range", Static).update("; ".join(parts))

    def _show_identity(self) -> None:
        s = self.station
        # Built from Text parts, never markup: a name or a setting may hold "[" and must show as typed.
        identity = Text.assemble(
            (s["name"], "bold"),
            "  ",
            s["mac"],
            "  ",
            # Worked out here, as in the list: live check-ins and time passing move it between fetches.
            state_label(station_state(s, self.poll_interval_s)),
            "\n",
            f"chip {s.get('chip') or '?'}   firmware {s.get('project') or '-'} {s.get('version') or '-'}"
            f"   should run {s.get('assigned_version') or '(nothing assigned)'}\n",
            f"IP {s.get('ip') or '-'}   BSSID {s.get('bssid') or '-'}   RSSI {s.get('rssi') or '-'} dBm\n",
            f"uptime {s.get('uptime_s') or '-'} s   free heap {s.get('free_heap') or '-'}   last restart"
            f" {s.get('restart') or s.get('restart_cause') or '-'}\n",
            f"last seen {ago(s.get('last_seen_at'))}   tags {', '.join(s.get('tags') or []) or '-'}"
            f"   token {'issued' if s.get('has_token') else 'none'}"
            f"   key {s.get('key_fingerprint') or 'none: it proves nothing but its MAC'}",
        )
        if s.get("ota_client"):
            # A stock update client tells what the sketch is; its own pace is what the state is judged by.
            pace = f"   polls every {s['seen_period_s']:.0f} s" if s.get("seen_period_s") else ""
            sketch = f"sketch MD5 {s['sketch_md5'][:12]}…" if s.get("sketch_md5") else "sketch unknown"
            identity.append(f"\nupdate client {s['ota_client']}   {sketch}{pace}")
        if s.get("ota_note"):
            identity.append(f"\nfirmware held back: {s['ota_note']}", style="yellow")
        if s.get("settings"):
            identity.append(f"\nsettings {json.dumps(s['settings'])}")
        if identity.plain != getattr(self, "_identity_shown", None):  # a repaint costs the link: only on change
            self._identity_shown = identity.plain
            self.query_one("#identity", Static).update(identity)

    async def _act(self, call: Any) -> None:
        try:
            await call
        except AdminError as exc:
            self.notify(exc.message, title="Refused", severity="error")
            return
        self.reload()

    @one_at_a_time("detail-action")
    async def action_rename(self) -> None:
        """Ask for a new name."""
        name = await self.app.push_screen_wait(Ask(f"New name for {self._who()}", self.station.get("name", "")))
        if name:
            await self._act(self.client.rename(self.mac, name))

    @one_at_a_time("detail-action")
    async def action_tag(self) -> None:
        """Add a tag, or remove one written as -tag."""
        text = await self.app.push_screen_wait(Ask(f"Tag {self._who()} (-tag removes one)", placeholder="garden"))
        if text:
            if text.startswith("-"):
                await self._act(self.client.tag(self.mac, remove=[text[1:]]))
            else:
                await self._act(self.client.tag(self.mac, add=[text]))

    @one_at_a_time("detail-action")
    async def action_accept(self) -> None:
        """Accept: the station gets its token at its next check-in."""
        if self.station.get("status") == "accepted":
            self.notify(f"{self._who()} is already accepted", severity="warning")
            return
        await self._act(self.client.accept(self.mac))

    @one_at_a_time("detail-action")
    async def action_reject(self) -> None:
        """Reject, after confirmation: it is turned away and its token revoked."""
        question = f"Reject {self._who()}?"
        detail = "It is turned away at its next check-in and its token stops working."
        if await self.app.push_screen_wait(Confirm(question, detail, yes="Reject")):
            await self._act(self.client.reject(self.mac))

    @one_at_a_time("detail-action")
    async def action_retire(self) -> None:
        """Retire, after confirmation: out of service, history kept."""
        question = f"Retire {self._who()}?"
        detail = "It is taken out of service and its token stops working; its history is kept."
        if await self.app.push_screen_wait(Confirm(question, detail, yes="Retire")):
            await self._act(self.client.retire(self.mac))

    @one_at_a_time("detail-action")
    async def action_delete(self) -> None:
        """Delete, after confirmation: the station and its history go (a device checking in again is pending)."""
        question = f"Delete {self._who()} and its history?"
        detail = "Every record of it goes. If it checks in again it comes back as pending, with a new key pinned."
        if not await self.app.push_screen_wait(Confirm(question, detail, yes="Delete")):
            return
        try:
            await self.client.delete_station(self.mac)
        except AdminError as exc:
            self.notify(exc.message, title="Refused", severity="error")
            return
        self.notify(f"{self._who()} deleted")
        self.app.pop_screen()

    @one_at_a_time("detail-action")
    async def action_set_chip(self) -> None:
        """Say which chip the station is (an ESP32-family stock client does not tell the model)."""
        options = [(chip, chip) for chip in CHIPS]
        chip = await self.app.push_screen_wait(Choose(f"Which chip is {self._who()}?", options))
        if chip:
            await self._act(self.client.set_chip(self.mac, chip))

    @one_at_a_time("detail-action")
    async def action_assign(self) -> None:
        """Choose an image of this station's chip (of its chip family while the model is unknown) to assign to it."""
        chip = self.station.get("chip")
        esp32_family = str(self.station.get("ota_client") or "").startswith("HTTPUpdate")
        try:
            images = [
                i
                for i in await self.client.images()
                if (i["chip"] == chip if chip else not (esp32_family and i["chip"] == "esp8266"))
            ]
        except AdminError as exc:
            self.notify(exc.message, title="Refused", severity="error")
            return
        if not images:
            self.notify(
                f"no image for {chip or 'this chip'} in the library: import one (f, then i)", severity="warning"
            )
            return
        options = [
            (i["sha256"], f"{i['project'] or '-'} {i['version'] or '-'}  {i['chip']}  {i['sha256'][:12]}")
            for i in images
        ]
        sha = await self.app.push_screen_wait(Choose(f"Assign which image to {self._who()}?", options))
        if sha:
            await self._act(self.client.assign(sha, station=self.mac))

    def _who(self) -> str:
        """The station as the admin knows it: name and MAC."""
        return f"{self.station.get('name') or '?'} ({self.mac})"


def _hours(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"
