"""The LAN view: every ESP that mDNS shows on the site's network, enrolled or not; push to ArduinoOTA ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import ProgressBar, Static

from appliance.contract.ages import age
from appliance.contract.client import AdminClient, AdminError
from tui.catchup import Refetch
from tui.dialogs import Ask, Choose, one_at_a_time
from tui.livetable import LiveTable

ARDUINO_OTA = "_arduino._tcp.local."
_KINDS = {ARDUINO_OTA: "ArduinoOTA", "_esphomelib._tcp.local.": "ESPHome", "_http._tcp.local.": "web"}
StationName = Callable[[str], str | None]


class LanTable(LiveTable):
    """One row per announced service; `p` pushes an image to the ArduinoOTA device under the cursor."""

    BINDINGS = [Binding("p", "push", "Push", tooltip="Push a firmware image to this ArduinoOTA device")]
    KEYS_TITLE = "LAN"

    def __init__(self, client: AdminClient, station_name: StationName, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client = client
        self.station_name = station_name
        self.services: dict[str, dict[str, Any]] = {}
        self._refetch = Refetch(self, self._fetch, "lan")
        self.empty_text = "Nothing on the site's network announces itself by mDNS yet."

    def on_mount(self) -> None:
        """Lay out the columns."""
        self.lay_out(
            (
                ("device", "Device"),
                ("kind", "Kind"),
                ("board", "Board"),
                ("address", "Address"),
                ("station", "Station"),
                ("since", "Since"),
            )
        )

    def mdns_is(self, on: bool) -> None:
        """Whether the service browses at all (it does not with mDNS off): the empty list says which."""
        self.empty_text = (
            "Nothing on the site's network announces itself by mDNS yet."
            if on
            else "mDNS is off on this appliance (serve --no-mdns, or [mdns] enabled = false): nothing is browsed."
        )

    def load(self, services: list[dict[str, Any]]) -> None:
        """Show these services, keeping the cursor on the same one where it is still there."""
        self.services = {s["name"]: s for s in services}
        self.show_rows([(service["name"], self._cells(service)) for service in services])

    def reload(self) -> None:
        """Fetch what is on the LAN again (a device came or went; asks during a fetch fold into one more)."""
        self._refetch()

    async def _fetch(self) -> None:
        try:
            self.load(await self.client.lan())
        except AdminError as exc:
            self.notify(exc.message, title="LAN", severity="error")

    def refresh_ages(self) -> None:
        """Rewrite the 'since' and station columns (time passes; stations are renamed)."""
        for name, service in self.services.items():
            self.set_cells(name, self._cells(service))

    def current_name(self) -> str | None:
        """The service under the cursor, if any."""
        return self.current_key()

    def item_words(self) -> str | None:
        """The device under the cursor."""
        service = self.services.get(self.current_key() or "")
        return None if service is None else _device(service)

    @one_at_a_time("lan-push")
    async def action_push(self) -> None:
        """Choose an image (and the device's OTA password if it asks for one), then push it."""
        service = self.services.get(self.current_name() or "")
        if service is None:
            self.notify("no device under the cursor to push to", severity="warning")
            return
        if service["type"] != ARDUINO_OTA or not service.get("address"):
            self.notify("only ArduinoOTA devices take a push; others pull their firmware", severity="warning")
            return
        image = await self._choose_image(service)
        if image is None:
            return
        password = None
        if service.get("txt", {}).get("auth_upload") == "yes":
            password = await self.app.push_screen_wait(
                Ask(f"OTA password of {_device(service)} (it is used once, never stored)", password=True)
            )
            if password is None:
                return
        progress = self.app.query_one("#lan-progress", PushProgress)
        progress.start(f"pushing to {_device(service)}…")
        try:
            result = await self.client.lan_push(service["address"], image, port=service.get("port"), password=password)
        except AdminError as exc:
            progress.finish(f"push failed: {exc.message}", service["address"], image)
            self.notify(exc.message, title="Push failed", severity="error", timeout=15)
            return
        checked = f"; password checked by {result['auth_scheme']}" if result.get("auth_scheme") else ""
        done = f"pushed {result['size']:,} bytes to {_device(service)}{checked}; it verified the MD5 and restarts"
        progress.finish(done, service["address"], image)
        self.notify(done)

    async def _choose_image(self, service: dict[str, Any]) -> str | None:
        try:
            images = await self.client.images()
        except AdminError as exc:
            self.notify(exc.message, severity="error")
            return None
        board = (service.get("board") or "").lower()
        # ArduinoOTA's board TXT is the build's board name ("esp32", "esp8266", "nodemcuv2"…): offer the images
        # for the chip it names first, and the rest after, since board names do not always say the chip.
        images.sort(key=lambda i: (not board.startswith(i["chip"]), i["chip"], i.get("project") or ""))
        if not images:
            self.notify("the firmware library is empty: import an image first (f, then i)", severity="warning")
            return None
        options = [
            (i["sha256"], f"{i.get('project') or '?'} {i.get('version') or ''} ({i['chip']}) {i['sha256'][:12]}")
            for i in images
        ]
        return await self.app.push_screen_wait(Choose(f"Push which image to {_device(service)}?", options))

    def _cells(self, service: dict[str, Any]) -> dict[str, str]:
        mac = service.get("station")
        station = (self.station_name(mac) or mac) if mac else "not enrolled"
        address = service.get("address") or "-"
        if service.get("port"):
            address = f"{address}:{service['port']}"
        return {
            "device": _device(service),
            "kind": _KINDS.get(service["type"], service["type"].removesuffix(".local.")),
            "board": service.get("board") or "-",
            "address": address,
            "station": station,
            "since": age(service.get("first_seen_at")),
        }


class PushProgress(Vertical):
    """How the current LAN push is going: a bar fed by the service's live progress messages, then the outcome."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # The push whose outcome is shown: its last progress message may arrive after its answer (the stream
        # is batched), and must not cover the outcome up.
        self._ended: tuple[str, str] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="lan-push-line")
        yield ProgressBar(total=100, show_eta=False, id="lan-push-bar")

    def start(self, text: str) -> None:
        """Show a push beginning."""
        self._ended = None
        self.add_class("shown")
        self.query_one("#lan-push-line", Static).update(text)
        self.query_one("#lan-push-bar", ProgressBar).update(progress=0)

    def advance(self, payload: dict[str, Any]) -> None:
        """Fold one `lan_push_progress` message in."""
        if (payload.get("address"), payload.get("sha256")) == self._ended:
            return
        self.add_class("shown")
        total = max(int(payload.get("total") or 1), 1)
        self.query_one("#lan-push-line", Static).update(str(payload.get("message") or ""))
        self.query_one("#lan-push-bar", ProgressBar).update(progress=100 * int(payload.get("done") or 0) / total)

    def finish(self, text: str, address: str, sha256: str) -> None:
        """Show how the push of `sha256` to `address` ended."""
        self._ended = (address, sha256)
        self.query_one("#lan-push-line", Static).update(text)


def _device(service: dict[str, Any]) -> str:
    name = str(service["name"])
    kind = str(service["type"])
    return name[: -len(kind) - 1] if name.endswith("." + kind) else name
