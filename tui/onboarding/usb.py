"""The on-site USB road: what is plugged into the Pi, flashing a station onto it with a live progress bar."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, DataTable, Input, Label, ProgressBar, Select

from appliance.contract.client import AdminError
from appliance.contract.events import family, kinds
from appliance.contract.shapes import Image
from tui.dialogs import field, one_at_a_time
from tui.livetable import LiveTable
from tui.onboarding.road import Road

BUSY = ("identifying", "flashing", "waiting", "joining")
_BAR = 10


def progress_cell(port: dict[str, Any]) -> str:
    """A bar in text for the table, for a port whose job is running (or just ended)."""
    job = port.get("job")
    if not job:
        return "-"
    percent = int(job["percent"])
    done = round(_BAR * percent / 100)
    return "█" * done + "░" * (_BAR - done) + f" {percent:>3}%"


class UsbPortsTable(LiveTable):
    """The serial ports plugged in; p (or Enter) flashes a station onto one, i identifies it again."""

    KEYS_TITLE = "On-site USB"  # what `?` calls this list

    BINDINGS = [
        Binding("p", "flash", "Flash", tooltip="Flash firmware and a new station's config onto this chip"),
        Binding("enter", "flash", "Flash", show=False),
        Binding("i", "identify", "Identify", tooltip="Ask again what is on this port"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.empty_text = (
            "Nothing plugged into the Pi's USB ports. Have someone at the site plug the board in: it shows up"
            " here within a second, identified by itself."
        )

    def on_mount(self) -> None:
        """Lay out the columns."""
        self.lay_out(
            (
                ("port", "Port"),
                ("state", "State"),
                ("chip", "Chip"),
                ("mac", "MAC"),
                ("station", "Station"),
                ("progress", "Progress"),
                ("what", "What"),
            )
        )

    def item_words(self) -> str | None:
        """The port under the cursor."""
        return self.current_key()

    def action_flash(self) -> None:
        """Open the flash wizard for the selected port."""
        if isinstance(self.parent, UsbRoad):
            self.parent.flash()

    def action_identify(self) -> None:
        """Identify the selected port again."""
        if isinstance(self.parent, UsbRoad):
            self.parent.identify()


class UsbRoad(Road):
    """A station plugged into the Pi's USB port: identified by itself, flashed on the admin's word."""

    TITLE = "On-site USB"
    SUMMARY = (
        "Someone at the site plugged a board into the Pi: the appliance identifies it (chip, MAC) by itself."
        " p flashes firmware and a new station's settings onto it, i identifies it again."
    )
    EVENTS = family("usb_", "improv_") | kinds("station_arrived")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ports: dict[str, dict[str, Any]] = {}

    def compose(self) -> ComposeResult:
        """Header, the ports and the progress of the one under the cursor."""
        yield from super().compose()
        yield UsbPortsTable(id="usb-table")
        yield Label("", id="usb-progress-label")
        yield ProgressBar(total=100, show_eta=False, id="usb-progress")

    def on_mount(self) -> None:
        """Load at once."""
        self.reload()

    async def load(self) -> None:
        """Fetch the ports and what is running on them."""
        try:
            ports = await self.client.usb_ports()
        except AdminError:
            return
        self.ports = {p["name"]: p for p in ports}
        self.query_one(UsbPortsTable).show_rows(
            [
                (
                    p["name"],
                    {
                        "port": p["name"] + ("" if p["present"] else " (gone)"),
                        "state": p["phase"],
                        "chip": p["chip"] or "-",
                        "mac": p["mac"] or "-",
                        "station": (p.get("station") or {}).get("name") or "-",
                        "progress": progress_cell(p),
                        "what": p["message"],
                    },
                )
                for p in ports
            ]
        )
        self._show_progress()

    @on(DataTable.RowHighlighted, "#usb-table")
    def _highlighted(self) -> None:
        self._show_progress()

    def _show_progress(self) -> None:
        """The bar follows the port under the cursor, or else the first one with a job running."""
        name = self.query_one(UsbPortsTable).selected()
        port = self.ports.get(name or "")
        if port is None or not port.get("job"):
            port = next((p for p in self.ports.values() if p["phase"] in BUSY and p.get("job")), port)
        bar, label = self.query_one("#usb-progress", ProgressBar), self.query_one("#usb-progress-label", Label)
        job: dict[str, Any] | None = (port or {}).get("job")
        shown = port is not None and job is not None and job["kind"] == "flash"
        bar.display = label.display = shown  # no empty bar while nothing is being flashed
        if port is None or job is None or not shown:
            return
        label.update(f"{port['name']}: {port['message']}")
        bar.update(progress=job["percent"])

    @one_at_a_time("usb-action")
    async def flash(self) -> None:
        """The wizard, then the flash: its progress shows in the table and the bar."""
        port = self.ports.get(self.query_one(UsbPortsTable).selected() or "")
        if port is None:
            self.notify("no board plugged in to flash: it shows here once plugged into the Pi", severity="warning")
            return
        try:
            images = [i for i in await self.client.images() if port["chip"] in (None, i["chip"])]
        except AdminError as exc:
            self.notify(exc.message, title="Refused", severity="error")
            return
        if not images:
            chip = port["chip"] or "this chip"
            self.notify(f"no firmware for {chip} in the library: import one first (f, then i)", severity="warning")
            return
        form = await self.app.push_screen_wait(FlashWizard(port, images))
        if form is None:
            return
        try:
            await self.client.usb_flash(port["name"], form["name"], form["firmware"], replace=form["replace"])
        except AdminError as exc:
            self.notify(exc.message, title="Not flashed", severity="error", timeout=10)
            return
        self.reload()

    @one_at_a_time("usb-action")
    async def identify(self) -> None:
        """Ask again what is on the selected port."""
        name = self.query_one(UsbPortsTable).selected()
        if name is None:
            self.notify("no board plugged in to identify", severity="warning")
            return
        try:
            await self.client.usb_identify(name)
        except AdminError as exc:
            self.notify(exc.message, title="Refused", severity="error")
            return
        self.reload()


class FlashWizard(ModalScreen[dict[str, Any] | None]):
    """The station's name and the firmware for the chip on the port (only images for that chip are offered)."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, port: dict[str, Any], images: list[Image]) -> None:
        super().__init__()
        self.port, self.images = port, images

    def compose(self) -> ComposeResult:
        port = self.port
        what = port["chip_description"] or "the board"
        with Vertical(classes="dialog"):
            yield Label(f"Flash a new station onto {what} on {port['name']}")
            yield field("Name", Input(placeholder="e.g. STA2", id="usb-name"))
            options = [
                (f"{i['project'] or '-'} {i['version'] or '-'} for {i['chip']} ({i['sha256'][:12]})", i["sha256"])
                for i in self.images
            ]
            yield field("Firmware", Select(options, value=options[0][1], allow_blank=False, id="usb-firmware"))
            yield Checkbox("replace a station known by this name or MAC", id="usb-replace", compact=True)
            with Horizontal(classes="buttons"):
                yield Button("Flash", id="flash", variant="primary", compact=True)
                yield Button("Cancel (Esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        """Type the name straight away."""
        self.set_focus(self.query_one("#usb-name", Input))

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self._finish()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "flash":
            self._finish()
        else:
            self.dismiss(None)

    def _finish(self) -> None:
        name = self.query_one("#usb-name", Input).value.strip()
        if not name:
            self.notify("give the station a name", severity="warning")
            self.set_focus(self.query_one("#usb-name", Input))
            return
        self.dismiss(
            {
                "name": name,
                "firmware": str(self.query_one("#usb-firmware", Select).value),
                "replace": self.query_one("#usb-replace", Checkbox).value,
            }
        )
