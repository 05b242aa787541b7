"""The Improv road: firmware on a USB port that speaks Improv (ESPHome, WLED…) is handed the site Wi-Fi."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding

from appliance.contract.client import AdminError
from appliance.contract.events import family
from tui.dialogs import Choose, one_at_a_time
from tui.livetable import LiveTable
from tui.onboarding.road import Road


class ImprovTable(LiveTable):
    """Ports whose firmware answered Improv; j hands one the site Wi-Fi."""

    KEYS_TITLE = "Improv serial"  # what `?` calls this list

    BINDINGS = [Binding("j", "join", "Join Wi-Fi", tooltip="Hand the station a site network over Improv")]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.empty_text = "No board that speaks Improv is plugged in (ESPHome and WLED builds do)."

    def on_mount(self) -> None:
        """Lay out the columns."""
        self.lay_out(
            (
                ("port", "Port"),
                ("device", "Device"),
                ("firmware", "Firmware"),
                ("state", "State"),
                ("address", "Address"),
                ("what", "What"),
            )
        )

    def item_words(self) -> str | None:
        """The port under the cursor."""
        return self.current_key()

    def action_join(self) -> None:
        """Choose a network and send it."""
        if isinstance(self.parent, ImprovRoad):
            self.parent.join()


class ImprovRoad(Road):
    """Hand the site Wi-Fi to a station over its serial port, and read back where it can be reached."""

    TITLE = "Improv serial"
    SUMMARY = (
        "A board whose firmware speaks Improv (ESPHome, WLED…) plugged into the Pi: j hands it a site network;"
        " its address comes back once it has joined."
    )
    EVENTS = family("improv_", "usb_")

    def compose(self) -> ComposeResult:
        """Header and the Improv ports."""
        yield from super().compose()
        yield ImprovTable(id="improv-table")

    def on_mount(self) -> None:
        """Load at once."""
        self.reload()

    async def load(self) -> None:
        """Fetch the ports that answered Improv."""
        try:
            ports = [p for p in await self.client.usb_ports() if p["improv"] is not None]
        except AdminError:
            return
        self.query_one(ImprovTable).show_rows(
            [
                (
                    p["name"],
                    {
                        "port": p["name"],
                        "device": p["improv_device"] or "-",
                        "firmware": p["improv_firmware"] or "-",
                        "state": p["phase"] if p["phase"] in ("joining", "failed") else p["improv"],
                        "address": ", ".join(p["urls"]) or "-",
                        "what": p["message"],
                    },
                )
                for p in ports
            ]
        )

    @one_at_a_time("improv-action")
    async def join(self) -> None:
        """Choose a site network (the first by priority is first) and send it to the selected station."""
        name = self.query_one(ImprovTable).selected()
        if name is None:
            self.notify("no Improv board plugged in to hand a network to", severity="warning")
            return
        try:
            networks = await self.client.wifi_networks()
        except AdminError as exc:
            self.notify(exc.message, title="Refused", severity="error")
            return
        if not networks:
            self.notify("the site has no Wi-Fi networks yet: add one on the Wi-Fi tab (w)", severity="warning")
            return
        options = [(n["ssid"], f"{n['ssid']} (priority {n['priority']})") for n in networks]
        ssid = await self.app.push_screen_wait(Choose(f"Which network should {name} join?", options))
        if ssid is None:
            return
        try:
            await self.client.usb_wifi(name, ssid)
        except AdminError as exc:
            self.notify(exc.message, title="Not sent", severity="error", timeout=10)
            return
        self.reload()
