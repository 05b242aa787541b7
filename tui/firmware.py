"""The firmware library: images with chip, project, version, size and digest; import, assign, delete."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, DirectoryTree, Input, Label

from appliance.contract.client import AdminClient, AdminError
from tui.catchup import Refetch
from tui.dialogs import Ask, Confirm


class FirmwareTable(DataTable[Any]):
    """Every image; i imports, g assigns, d deletes."""

    BINDINGS = [
        Binding("i", "import_image", "Import"),
        Binding("g", "assign", "Assign"),
        Binding("d", "delete", "Delete"),
    ]

    def __init__(self, client: AdminClient, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.client = client
        self._refetch = Refetch(self, self._fetch, "firmware")

    def on_mount(self) -> None:
        """Lay out the columns."""
        for key in ("SHA-256", "Chip", "Project", "Version", "Size", "File"):
            self.add_column(key, key=key)

    def load(self, images: list[dict[str, Any]]) -> None:
        """Show these images."""
        self.clear()
        for image in images:
            self.add_row(
                image["sha256"][:16],
                image["chip"],
                image["project"] or "-",
                image["version"] or "-",
                f"{image['size']:,}",
                image["filename"],
                key=image["sha256"],
            )

    def reload(self) -> None:
        """Fetch the library again (asks during a fetch fold into one more)."""
        self._refetch()

    async def _fetch(self) -> None:
        self.load(await self.client.images())

    def _selected(self) -> str | None:
        if not self.row_count:
            return None
        value = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return None if value is None else str(value)

    @work(group="firmware-action", exit_on_error=False)
    async def action_import_image(self) -> None:
        """Pick a file on the Pi and import it."""
        path = await self.app.push_screen_wait(PickFile())
        if path is None:
            return
        try:
            data = await asyncio.to_thread(Path(path).read_bytes)
            image = await self.client.import_image(data, Path(path).name)
        except OSError as exc:
            self.notify(f"cannot read {path}: {exc.strerror}", severity="error")
            return
        except AdminError as exc:
            self.notify(exc.message, title="Refused", severity="error", timeout=10)
            return
        self.notify(f"imported {image['project'] or ''} {image['version'] or ''} for {image['chip']}")
        self.reload()

    @work(group="firmware-action", exit_on_error=False)
    async def action_assign(self) -> None:
        """Assign the selected image to a station (MAC) or a tag (tag:NAME)."""
        sha = self._selected()
        if sha is None:
            return
        target = await self.app.push_screen_wait(Ask("Assign to which station MAC, or tag:NAME?"))
        if not target:
            return
        try:
            if target.startswith("tag:"):
                await self.client.assign(sha, tag=target[4:])
            else:
                await self.client.assign(sha, station=target)
        except AdminError as exc:
            self.notify(exc.message, title="Refused", severity="error")
            return
        self.notify(f"assigned {sha[:12]} to {target}")

    @work(group="firmware-action", exit_on_error=False)
    async def action_delete(self) -> None:
        """Delete the selected image, after confirmation."""
        sha = self._selected()
        if sha is None or not await self.app.push_screen_wait(Confirm(f"Delete image {sha[:12]}?")):
            return
        try:
            await self.client.delete_image(sha)
        except AdminError as exc:
            self.notify(exc.message, title="Refused", severity="error")
            return
        self.reload()


class PickFile(ModalScreen[str | None]):
    """Choose a firmware file on the Pi: browse, or type its path."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog tall"):
            yield Label("Import which file? (Enter on a file, or type a path)")
            yield Input(placeholder="/home/addie/weather-1.4.0.bin", id="path")
            yield DirectoryTree(Path.home(), id="tree")

    def on_mount(self) -> None:
        """Type a path straight away (Tab reaches the tree)."""
        self.query_one("#path", Input).focus()

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        """A file was chosen in the tree."""
        self.dismiss(str(event.path))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """A path was typed."""
        self.dismiss(event.value.strip() or None)
