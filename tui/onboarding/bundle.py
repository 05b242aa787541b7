"""The bench road: make a station's bundle on the Pi, copy it off and flash it at the bench; watch it arrive."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from appliance.contract import bundles
from appliance.contract.client import AdminError
from appliance.contract.events import family, kinds
from appliance.contract.shapes import Image
from tui.dialogs import Confirm, field, one_at_a_time
from tui.livetable import LiveTable
from tui.onboarding.road import Road
from tui.states import ago

# Chips a bundle can be made for: those with NVS and Wi-Fi (the service says why the others cannot).
BUNDLE_CHIPS = ("esp32", "esp32s2", "esp32s3", "esp32c2", "esp32c3", "esp32c5", "esp32c6", "esp32p4")
NO_FIRMWARE = "none"


class AwaitingTable(LiveTable):
    """Stations awaiting their arrival; b makes a new bundle, c cancels one."""

    KEYS_TITLE = "Bench bundle"  # what `?` calls this list

    BINDINGS = [
        Binding("b", "new_bundle", "New bundle", tooltip="Make a bench bundle for a new station"),
        Binding("c", "cancel_bundle", "Cancel bundle", tooltip="Its token stops working (asks first)"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.empty_text = "No bundle awaited: b makes one for a station on your bench."

    def on_mount(self) -> None:
        """Lay out the columns."""
        self.lay_out((("name", "Name"), ("chip", "Chip"), ("mac", "MAC"), ("networks", "Networks"), ("made", "Made")))

    def item_words(self) -> str | None:
        """The bundle under the cursor."""
        name = self.current_key()
        return None if name is None else f"{name}'s bundle"

    def action_new_bundle(self) -> None:
        """Open the wizard."""
        if isinstance(self.parent, BenchBundleRoad):
            self.parent.new_bundle()

    def action_cancel_bundle(self) -> None:
        """Cancel the selected bundle."""
        if isinstance(self.parent, BenchBundleRoad):
            self.parent.cancel_bundle()


class BenchBundleRoad(Road):
    """Make a bundle (NVS image with the site Wi-Fi, the appliance's name and the token; firmware if wanted)."""

    TITLE = "Bench bundle"
    SUMMARY = (
        "For a station on your bench: its settings (and firmware) as one esptool command. It arrives by itself"
        " once plugged in at the site. b makes a bundle, c cancels one awaited."
    )
    EVENTS = family("bundle_", "onboarding_") | kinds("station_arrived", "wifi_added", "wifi_removed")

    def compose(self) -> ComposeResult:
        """Header and the awaited stations."""
        yield from super().compose()
        yield AwaitingTable(id="onboarding-table")

    def on_mount(self) -> None:
        """Load at once."""
        self.reload()

    async def load(self) -> None:
        """Fetch the awaited stations."""
        try:
            awaiting = (await self.client.provisions())["awaiting"]
        except AdminError:
            return
        try:
            networks = await self.client.wifi_networks()
        except AdminError:
            networks = []
        table = self.query_one(AwaitingTable)
        if not networks:
            # A bundle carries the site's Wi-Fi: without one it could not be made; say so before the form.
            table.empty_text = "No site Wi-Fi yet: add one with w, then a (a bundle carries the site's networks)."
        else:
            table.empty_text = "No bundle awaited: b makes one for a station on your bench."
        table.show_rows(
            [
                (
                    p["name"],
                    {
                        "name": p["name"],
                        "chip": p["chip"],
                        "mac": p["mac"] or "-",
                        "networks": ", ".join(p["networks"]) or "-",
                        "made": ago(p["created_at"]),
                    },
                )
                for p in awaiting
            ]
        )

    @one_at_a_time("bench-action")
    async def new_bundle(self) -> None:
        """The wizard, then the bundle written on the Pi and the command to flash it."""
        try:
            images = await self.client.images()
            networks = await self.client.wifi_networks()
        except AdminError as exc:
            self.notify(exc.message, title="Refused", severity="error")
            return
        form = await self.app.push_screen_wait(BundleWizard(images, has_wifi=bool(networks)))
        if form is None:
            return
        directory = Path(form.pop("out") or f"~/{form['name']}-bundle")  # expanded by make_and_write
        try:
            made = await bundles.make_and_write(self.client, directory, form.pop("name"), form.pop("chip"), **form)
        except (AdminError, bundles.BundleWriteError) as exc:
            self.notify(getattr(exc, "message", str(exc)), title="No bundle made", severity="error", timeout=10)
            return
        self.reload()
        await self.app.push_screen_wait(BundleMade(made))

    @one_at_a_time("bench-action")
    async def cancel_bundle(self) -> None:
        """Cancel the selected awaited bundle, after confirmation."""
        name = self.query_one(AwaitingTable).current_key()
        if name is None:
            self.notify("no bundle awaited to cancel", severity="warning")
            return
        question = f"Cancel {name}'s bundle?"
        detail = f"Its token stops working: {name} flashed with it is turned away. Its files on the Pi stay."
        if not await self.app.push_screen_wait(Confirm(question, detail, yes="Cancel it")):
            return
        try:
            await self.client.cancel_bundle(name)
        except AdminError as exc:
            self.notify(exc.message, title="Refused", severity="error")
            return
        self.reload()


class BundleWizard(ModalScreen[dict[str, Any] | None]):
    """Name, chip, MAC if known, firmware if wanted, and where on the Pi to write the bundle."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, images: list[Image], *, has_wifi: bool = True) -> None:
        super().__init__()
        self.images = images
        self.has_wifi = has_wifi

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("New bench bundle: Enter in a field makes it")
            if not self.has_wifi:
                yield Static(
                    "No site Wi-Fi yet: add one with w, then a. A bundle carries the site's networks.",
                    id="bundle-no-wifi",
                    classes="warning",
                )
            yield field("Name", Input(placeholder="e.g. STA2", id="bundle-name"))
            chips = [(c, c) for c in BUNDLE_CHIPS]
            yield field("Chip", Select(chips, value="esp32", allow_blank=False, id="bundle-chip"))
            yield field("MAC", Input(placeholder="if you know it (optional)", id="bundle-mac"))
            firmware = self._firmware_options("esp32")
            yield field("Firmware", Select(firmware, value=NO_FIRMWARE, allow_blank=False, id="bundle-firmware"))
            yield field("Directory", Input(placeholder="on the Pi (default ~/NAME-bundle)", id="bundle-out"))
            with Horizontal(classes="buttons"):
                yield Button("Make bundle", id="make", variant="primary", compact=True)
                yield Button("Cancel (Esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        """Type the name straight away."""
        self.set_focus(self.query_one("#bundle-name", Input))

    @on(Select.Changed, "#bundle-chip")
    def _chip_changed(self, event: Select.Changed) -> None:
        firmware = self.query_one("#bundle-firmware", Select)
        firmware.set_options(self._firmware_options(str(event.value)))
        firmware.value = NO_FIRMWARE

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self._finish()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "make":
            self._finish()
        else:
            self.dismiss(None)

    def _finish(self) -> None:
        name = self.query_one("#bundle-name", Input).value.strip()
        if not name:
            self.notify("give the station a name", severity="warning")
            self.set_focus(self.query_one("#bundle-name", Input))
            return
        firmware = str(self.query_one("#bundle-firmware", Select).value)
        self.dismiss(
            {
                "name": name,
                "chip": str(self.query_one("#bundle-chip", Select).value),
                "mac": self.query_one("#bundle-mac", Input).value.strip() or None,
                "firmware": None if firmware == NO_FIRMWARE else firmware,
                "out": self.query_one("#bundle-out", Input).value.strip(),
            }
        )

    def _firmware_options(self, chip: str) -> list[tuple[str, str]]:
        options = [("no firmware: settings only (NVS image)", NO_FIRMWARE)]
        for image in self.images:
            if image["chip"] == chip:
                label = f"merge {image['project'] or '-'} {image['version'] or '-'} ({image['sha256'][:12]})"
                options.append((label, image["sha256"]))
        return options


class BundleMade(ModalScreen[None]):
    """Where the bundle is and the command to flash it (no secret is shown: they are inside the files)."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Close"), Binding("enter", "dismiss(None)", "Close")]

    def __init__(self, made: dict[str, Any]) -> None:
        super().__init__()
        self.made = made

    def compose(self) -> ComposeResult:
        provision = self.made["provision"]
        lines = Text.assemble(
            (f"{provision['name']} ({provision['chip']}) is awaiting its arrival.\n", "bold"),
            f"Its bundle is in {self.made['directory']}:\n",
            *(f"  {f['name']}  {f['size']:,} bytes\n" for f in self.made["files"]),
            "Copy it off the Pi (it holds the token: keep it private); at the bench, in that directory:\n\n",
            (f"  {self.made['command_line']}\n", "bold"),
        )
        with Vertical(classes="dialog"):
            yield Static(lines, id="bundle-made")
            yield Button("Done", id="done", variant="primary")

    def on_button_pressed(self) -> None:
        """Done."""
        self.dismiss(None)


AWAITING_KEY = "bundle:"


def as_station_rows(awaiting: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Bundles whose MAC is not known yet, as rows of the stations list ("… awaiting" until they arrive)."""
    return [
        {
            "mac": AWAITING_KEY + p["name"],
            "name": p["name"],
            "status": "accepted",
            "chip": p["chip"],
            "tags": [],
            "last_seen_at": None,
            "created_at": p["created_at"],
        }
        for p in awaiting
        if p["mac"] is None
    ]
