"""The command palette: every action of the view on the item under the cursor, stations by name, the app's own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.command import Hit, Hits, Provider
from textual.dom import DOMNode
from textual.widgets import TabbedContent

from tui.detail import StationScreen
from tui.keys import class_bindings, view_bindings

if TYPE_CHECKING:
    from tui.app import StationmasterApp

ACTIONS = (
    ("Stations", "show_tab('stations')", "the station list"),
    ("Firmware", "show_tab('firmware')", "the firmware library"),
    ("Events", "show_tab('events')", "the live event log"),
    ("Alerts", "show_tab('alerts')", "weak signal, reboot loops, silent stations, wrong versions"),
    ("Rollouts", "show_tab('rollouts')", "staged rollouts, wave by wave"),
    ("LAN", "show_tab('lan')", "every ESP on the site's network, enrolled or not; push to ArduinoOTA ones"),
    ("Onboarding", "show_tab('onboarding')", "bring new stations in: bench bundles, claims"),
    ("Wi-Fi", "show_tab('wifi')", "the site's networks and their rotation"),
    ("New bench bundle", "new_bundle", "make a station's NVS image and esptool command"),
    ("Add Wi-Fi network", "add_wifi", "add a site network (every station's list gains it)"),
    ("Filter stations", "filter", "filter the station list by text or tag"),
    ("Import firmware", "import_firmware", "import an image file from the Pi"),
    ("Reload", "reload", "fetch everything again"),
    ("Back up the site", "backup", "save a backup (secrets left out) in your home folder"),
    ("Sync the release feed", "sync_feed", "look at the release feed now and fetch what is new"),
    ("Quit", "quit", "leave the TUI (the service keeps running)"),
)
# Keys that move around rather than act: the palette's own entries (tabs, keys, quit) say these better.
_NOT_ACTIONS = ("app.pop_screen", "app.keys", "keys", "quit", "filter", "leave_filter")


class StationmasterCommands(Provider):
    """What the admin can do from here, by name: the view's actions on what is under the cursor first."""

    async def search(self, query: str) -> Hits:
        """Yield what matches `query`."""
        app: StationmasterApp = self.app  # type: ignore[assignment]
        matcher = self.matcher(query)
        for label, run, help_text in self._choices(app):
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), run, text=label, help=help_text)

    def _choices(self, app: StationmasterApp) -> Iterator[tuple[str, Callable[[], Any], str]]:
        # The view under the palette: its widgets' actions, each on the item under that widget's cursor.
        for node, binding in view_bindings(app, self.screen):
            if node is app or binding.action in _NOT_ACTIONS or binding.action.startswith("show_tab"):
                continue
            item = _item_words(node)
            label = f"{binding.description} {item or ''}".strip()
            yield label, partial(app.run_action, binding.action, node), f"key {app.get_key_display(binding)}"
        # On the stations list, the station screen's actions for the station under the cursor.
        if self.screen is app.screen_stack[0] and app.query_one(TabbedContent).active == "stations":
            mac = app.stations_table.current_mac()
            station = app.stations_table.stations.get(mac or "")
            if mac is not None and station is not None:
                for binding in class_bindings(StationScreen):
                    if binding.action in _NOT_ACTIONS:
                        continue
                    label = f"{binding.description} {station.get('name') or mac}"
                    yield label, partial(app.open_station, mac, binding.action), f"opens it, then {binding.key}"
        for station in list(app.stations_table.stations.values()):
            label = f"Station {station['name']} ({station['mac']})"
            help_text = f"open it: {station.get('chip') or '?'} {station.get('version') or ''}"
            yield label, partial(app.open_station, station["mac"]), help_text
        for name, action, help_text in ACTIONS:
            yield name, partial(app.run_palette_action, action), help_text


def _item_words(node: DOMNode) -> str | None:
    words = getattr(node, "item_words", None)
    return words() if callable(words) else None
