"""The command palette: jump to a station by name, or run any action."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.command import Hit, Hits, Provider

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


class StationmasterCommands(Provider):
    """Stations by name (and MAC), then the app's actions."""

    async def search(self, query: str) -> Hits:
        """Yield what matches `query`."""
        app: StationmasterApp = self.app  # type: ignore[assignment]
        matcher = self.matcher(query)
        for station in list(app.stations_table.stations.values()):
            label = f"Station {station['name']} ({station['mac']})"
            score = matcher.match(label)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(label),
                    partial(app.open_station, station["mac"]),
                    help=f"{station.get('chip') or '?'} {station.get('version') or ''}",
                )
        for name, action, help_text in ACTIONS:
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), partial(app.run_palette_action, action), help=help_text)
