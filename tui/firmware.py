"""The firmware library: images with project, version, chip, size and digest; import, assign, delete."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Input, Label, Static

from appliance.contract.client import AdminClient, AdminError
from appliance.contract.shapes import Image, Station
from tui.catchup import Refetch
from tui.dialogs import Choose, Confirm, field, one_at_a_time
from tui.livetable import LiveTable

NO_IMAGES = "No firmware yet: i imports an image file from the Pi (f, then i, from anywhere)."


def image_words(image: Image) -> str:
    """An image as the admin knows it: "weather 1.5.0 (esp32, 3f2a9c1b0d4e)"."""
    what = " ".join(str(v) for v in (image.get("project"), image.get("version")) if v) or "an unnamed image"
    return f"{what} ({image.get('chip') or '?'}, {str(image['sha256'])[:12]})"


class FirmwareTable(LiveTable):
    """Every image, keyed by digest; i imports, g assigns, d deletes."""

    BINDINGS = [
        Binding("i", "import_image", "Import", tooltip="Import an image file on the Pi"),
        Binding("g", "assign", "Assign", tooltip="Assign this image to a station (by name) or a tag"),
        Binding("d", "delete", "Delete", tooltip="Delete this image (asks first)"),
    ]

    def __init__(self, client: AdminClient, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client = client
        self.images: dict[str, Image] = {}
        self._refetch = Refetch(self, self._fetch, "firmware")
        self.empty_text = NO_IMAGES

    def on_mount(self) -> None:
        """Lay out the columns."""
        for key, label in (
            ("project", "Project"),
            ("version", "Version"),
            ("chip", "Chip"),
            ("size", "Size"),
            ("sha256", "SHA-256"),
            ("file", "File"),
        ):
            self.add_column(label, key=key)

    def load(self, images: list[Image]) -> None:
        """Show these images; the cursor stays on the image it was on."""
        self.images = {image["sha256"]: image for image in images}
        self.show_rows(
            [
                (
                    image["sha256"],
                    {
                        "project": image["project"] or "-",
                        "version": image["version"] or "-",
                        "chip": image["chip"],
                        "size": f"{image['size']:,}",
                        "sha256": image["sha256"][:12],
                        "file": image["filename"],
                    },
                )
                for image in images
            ]
        )

    def reload(self) -> None:
        """Fetch the library again (asks during a fetch fold into one more)."""
        self._refetch()

    async def _fetch(self) -> None:
        try:
            self.load(await self.client.images())
        except AdminError:
            return  # a lost link is the banner's to tell; the reconnect fetches again

    def selected(self) -> Image | None:
        """The image under the cursor, if any."""
        key = self.current_key()
        return None if key is None else self.images.get(key)

    def item_words(self) -> str | None:
        """The image under the cursor, by project and version."""
        image = self.selected()
        return None if image is None else image_words(image)

    @one_at_a_time("firmware-action")
    async def action_import_image(self) -> None:
        """Pick a file on the Pi and import it (with its project and version, for an image that does not say them)."""
        picked = await self.app.push_screen_wait(PickFile())
        if picked is None:
            return
        path, project, version = picked
        try:
            data = await asyncio.to_thread(Path(path).read_bytes)
            image = await self.client.import_image(data, Path(path).name, project=project, version=version)
        except OSError as exc:
            self.notify(f"cannot read {path}: {exc.strerror}", severity="error")
            return
        except AdminError as exc:
            self.notify(exc.message, title="Refused", severity="error", timeout=10)
            return
        if image["version"]:
            self.notify(f"imported {image_words(image)}")
        else:
            self.notify(
                f"imported {image_words(image)} without a version: a rollout needs one. Delete it (d) and import it"
                " again with its version.",
                severity="warning",
                timeout=15,
            )
        self.go_to_when_shown(image["sha256"])
        self.reload()

    @one_at_a_time("firmware-action")
    async def action_assign(self) -> None:
        """Assign the selected image to a station, chosen by name, or to a tag (which asks first, with its reach)."""
        image = self.selected()
        if image is None:
            self.notify("no image to assign: import one first (i)", severity="warning")
            return
        try:
            stations = await self.client.stations()
        except AdminError as exc:
            self.notify(exc.message, title="Refused", severity="error")
            return
        question = f"Assign {image_words(image)} to which station (by name) or tag?"
        target = await self.app.push_screen_wait(
            Choose(
                question,
                assign_options(image, stations),
                free=lambda typed: (
                    f"tag:{typed[4:].strip()}" if typed.startswith("tag:") and typed[4:].strip() else None
                ),
                placeholder="a station's name, or tag:NAME (a tag no station has yet, too)",
            )
        )
        if target is None:
            return
        kind, _, value = target.partition(":")
        if kind == "tag":
            tagged = [s for s in stations if value in (s.get("tags") or ())]
            fit = sum(1 for s in tagged if s.get("chip") == image["chip"])
            question = f"Assign {image_words(image)} to every station tagged {value}?"
            detail = (
                f"It reaches the {len(tagged)} station(s) tagged {value}; {fit} of them are {image['chip']} and can"
                " take it, each at its next poll. A station's own assignment, or an older one to another of its"
                " tags, comes first."
            )
            if not await self.app.push_screen_wait(Confirm(question, detail, yes="Assign")):
                return
            call, where = self.client.assign(image["sha256"], tag=value), f"every station tagged {value}"
        else:
            named = next((s for s in stations if s["mac"] == value), {"name": value})
            call, where = self.client.assign(image["sha256"], station=value), f"{named['name']} ({value})"
        try:
            await call
        except AdminError as exc:
            self.notify(exc.message, title="Refused", severity="error")
            return
        self.notify(f"assigned {image_words(image)} to {where}")

    @one_at_a_time("firmware-action")
    async def action_delete(self) -> None:
        """Delete the selected image, after confirmation."""
        image = self.selected()
        if image is None:
            self.notify("no image to delete", severity="warning")
            return
        question = f"Delete {image_words(image)}?"
        detail = f"{image['filename']} ({image['size']:,} bytes) leaves the Pi. An image still assigned is kept."
        if not await self.app.push_screen_wait(Confirm(question, detail, yes="Delete")):
            return
        try:
            await self.client.delete_image(image["sha256"])
        except AdminError as exc:
            self.notify(exc.message, title="Refused", severity="error")
            return
        self.reload()


def assign_options(image: Image, stations: list[Station]) -> list[tuple[str, str]]:
    """Stations of the image's chip by name (with what they run), then every tag with how many carry it."""
    options = [
        (f"station:{s['mac']}", f"{s['name']}  {s['mac']}  runs {s.get('version') or '-'}  {s.get('status')}")
        for s in sorted(stations, key=lambda s: str(s["name"]).lower())
        if s.get("chip") == image["chip"] and s.get("status") in ("accepted", "pending")
    ]
    tags: dict[str, int] = {}
    for station in stations:
        for tag in station.get("tags") or ():
            tags[tag] = tags.get(tag, 0) + 1
    options += [(f"tag:{tag}", f"tag {tag}  ({count} station(s))") for tag, count in sorted(tags.items())]
    return options


class PickFile(ModalScreen[tuple[str, str | None, str | None] | None]):
    """A firmware file on the Pi (browsed, or its path typed) and its project and version, if it does not say them."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog tall"):
            yield Label("Import which file? Type its path and Enter, or pick it in the tree (Tab)")
            yield field("File", Input(placeholder="/home/addie/weather-1.4.0.bin", id="path"))
            yield Static(
                "ESP32 images say their project and version; an ESP8266 image does not: give them here.",
                classes="hint",
            )
            yield field("Project", Input(placeholder="for an ESP8266 image", id="project"))
            yield field("Version", Input(placeholder="for an ESP8266 image", id="version"))
            yield DirectoryTree(Path.home(), id="tree")

    def on_mount(self) -> None:
        """Type a path straight away (Tab reaches the version and the tree)."""
        self.set_focus(self.query_one("#path", Input))

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        """A file was chosen in the tree."""
        self._done(str(event.path))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the path (or the project, or the version) imports the path typed."""
        path = self.query_one("#path", Input).value.strip()
        if path:
            self._done(path)
        else:
            self.set_focus(self.query_one("#path", Input))

    def _done(self, path: str) -> None:
        project = self.query_one("#project", Input).value.strip() or None
        version = self.query_one("#version", Input).value.strip() or None
        self.dismiss((path, project, version))
