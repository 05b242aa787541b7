"""One station in full: identity, signal, uptime and heap history, restarts, commands, events, and its actions."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Label, Sparkline, Static

from appliance.contract.chips import CHIPS
from appliance.contract.client import AdminClient, AdminError
from tui.catchup import Refetch
from tui.dialogs import Ask, Choose, Confirm
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
    ]

    def __init__(self, client: AdminClient, mac: str, poll_interval_s: float) -> None:
        super().__init__()
        self.client, self.mac, self.poll_interval_s = client, mac, poll_interval_s
        self.station: dict[str, Any] = {}
        self._refetch = Refetch(self, self._fetch, "detail")

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(id="identity")
            yield Label("Signal (RSSI, oldest → newest)", classes="section")
            yield Sparkline([], id="rssi")
            yield Static(id="rssi-range")
            yield Label("Uptime (a drop is a restart)", classes="section")
            yield Sparkline([], id="uptime")
            yield Label("Free heap", classes="section")
            yield Sparkline([], id="heap")
            yield Static(id="uptime-range")
            yield Label("Restarts", classes="section")
            yield DataTable(id="restarts", cursor_type="none")
            yield Label("Commands", classes="section")
            yield DataTable(id="commands", cursor_type="none")
            yield Label("Events", classes="section")
            yield DataTable(id="station-events", cursor_type="none")
        yield Footer()

    def on_mount(self) -> None:
        """Lay out the tables and load."""
        self.query_one("#restarts", DataTable).add_columns("When", "Cause", "Code", "Firmware said", "Version")
        self.query_one("#commands", DataTable).add_columns("Queued", "Command", "State", "Result")
        self.query_one("#station-events", DataTable).add_columns("When", "Kind", "Message")
        self.reload()

    def reload(self) -> None:
        """Fetch the station, its history and its events (asks during a fetch fold into one more)."""
        self._refetch()

    async def _fetch(self) -> None:
        self.station = await self.client.station(self.mac)
        history = list(reversed(await self.client.checkins(self.mac, limit=300)))
        events = await self.client.events(mac=self.mac, limit=50)
        restarts = await self.client.restarts(self.mac, limit=50)
        commands = await self.client.commands(station=self.mac, limit=20)
        self._show_identity()
        signal = [h["rssi"] for h in history if h.get("rssi") is not None]
        self.query_one("#rssi", Sparkline).data = [float(v + 100) for v in signal]  # sparklines need positives
        self.query_one("#rssi-range", Static).update(
            f"{len(signal)} samples, {min(signal)} to {max(signal)} dBm, now {signal[-1]} dBm"
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

    def _show_uptime_and_heap(self, history: list[dict[str, Any]]) -> None:
        uptime = [float(h["uptime_s"]) for h in history if h.get("uptime_s") is not None]
        heap = [float(h["free_heap"]) for h in history if h.get("free_heap") is not None]
        self.query_one("#uptime", Sparkline).data = uptime
        self.query_one("#heap", Sparkline).data = heap
        parts = [f"uptime up to {max(uptime) / 3600:.1f} h" if uptime else "no uptime history"]
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
            state_label(s.get("state") or station_state(s, self.poll_interval_s)),
            "\n",
            f"chip {s.get('chip') or '?'}   firmware {s.get('project') or '-'} {s.get('version') or '-'}"
            f"   should run {s.get('assigned_version') or '(nothing assigned)'}\n",
            f"IP {s.get('ip') or '-'}   BSSID {s.get('bssid') or '-'}   RSSI {s.get('rssi') or '-'} dBm\n",
            f"uptime {s.get('uptime_s') or '-'} s   free heap {s.get('free_heap') or '-'}   last restart"
            f" {s.get('restart') or s.get('restart_cause') or '-'}   last seen {ago(s.get('last_seen_at'))}\n",
            f"tags {', '.join(s.get('tags') or []) or '-'}   token {'issued' if s.get('has_token') else 'none'}"
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
        self.query_one("#identity", Static).update(identity)

    async def _act(self, call: Any) -> None:
        try:
            await call
        except AdminError as exc:
            self.notify(exc.message, title="Refused", severity="error")
            return
        self.reload()

    @work(group="detail-action", exit_on_error=False)
    async def action_rename(self) -> None:
        """Ask for a new name."""
        name = await self.app.push_screen_wait(Ask("New name", self.station.get("name", "")))
        if name:
            await self._act(self.client.rename(self.mac, name))

    @work(group="detail-action", exit_on_error=False)
    async def action_tag(self) -> None:
        """Add a tag, or remove one written as -tag."""
        text = await self.app.push_screen_wait(Ask("Tag (write -tag to remove it)", placeholder="garden"))
        if text:
            if text.startswith("-"):
                await self._act(self.client.tag(self.mac, remove=[text[1:]]))
            else:
                await self._act(self.client.tag(self.mac, add=[text]))

    @work(group="detail-action", exit_on_error=False)
    async def action_accept(self) -> None:
        """Accept: the station gets its token at its next check-in."""
        await self._act(self.client.accept(self.mac))

    @work(group="detail-action", exit_on_error=False)
    async def action_reject(self) -> None:
        """Reject, after confirmation: it is turned away and its token revoked."""
        if await self.app.push_screen_wait(Confirm(f"Reject {self.station.get('name')}? It will be turned away.")):
            await self._act(self.client.reject(self.mac))

    @work(group="detail-action", exit_on_error=False)
    async def action_retire(self) -> None:
        """Retire, after confirmation: out of service, history kept."""
        if await self.app.push_screen_wait(Confirm(f"Retire {self.station.get('name')}? Its token is revoked.")):
            await self._act(self.client.retire(self.mac))

    @work(group="detail-action", exit_on_error=False)
    async def action_delete(self) -> None:
        """Delete, after confirmation: the station and its history go (a device checking in again is pending)."""
        name = self.station.get("name", self.mac)
        question = f"Delete {name} and its history? If it checks in again it comes back as pending."
        if not await self.app.push_screen_wait(Confirm(question)):
            return
        try:
            await self.client.delete_station(self.mac)
        except AdminError as exc:
            self.notify(exc.message, title="Refused", severity="error")
            return
        self.notify(f"{name} deleted")
        self.app.pop_screen()

    @work(group="detail-action", exit_on_error=False)
    async def action_set_chip(self) -> None:
        """Say which chip the station is (an ESP32-family stock client does not tell the model)."""
        options = [(chip, chip) for chip in CHIPS]
        chip = await self.app.push_screen_wait(Choose(f"Which chip is {self.station.get('name')}?", options))
        if chip:
            await self._act(self.client.set_chip(self.mac, chip))

    @work(group="detail-action", exit_on_error=False)
    async def action_assign(self) -> None:
        """Choose an image of this station's chip (of its chip family while the model is unknown) to assign to it."""
        chip = self.station.get("chip")
        esp32_family = str(self.station.get("ota_client") or "").startswith("HTTPUpdate")
        images = [
            i
            for i in await self.client.images()
            if (i["chip"] == chip if chip else not (esp32_family and i["chip"] == "esp8266"))
        ]
        if not images:
            self.notify(f"no image for {chip or 'this chip'} in the library", severity="warning")
            return
        options = [
            (i["sha256"], f"{i['project'] or '-'} {i['version'] or '-'}  {i['chip']}  {i['sha256'][:12]}")
            for i in images
        ]
        sha = await self.app.push_screen_wait(Choose("Assign which image?", options))
        if sha:
            await self._act(self.client.assign(sha, station=self.mac))
