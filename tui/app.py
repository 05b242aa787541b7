"""The Stationmaster TUI: the admin's whole view of the site, over the admin socket only."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static, TabbedContent, TabPane

from appliance.contract.client import AdminError, ServiceUnavailable
from appliance.contract.clock import ServiceTime
from appliance.contract.events import family, kinds
from tui.alerts import AlertsTable
from tui.catchup import Refetch
from tui.detail import StationScreen
from tui.events import EventsTable
from tui.firmware import FirmwareTable
from tui.keys import KeyBar, KeysHelp, help_entries
from tui.lan import LanTable, PushProgress
from tui.link import LinkDown, LinkResumed, LinkUp, ServiceLink, ServiceMessages
from tui.onboarding import OnboardingPane
from tui.onboarding.bundle import AWAITING_KEY, BenchBundleRoad, as_station_rows
from tui.palette import StationmasterCommands
from tui.remote import Remote, version_notice
from tui.rollouts import RolloutsView
from tui.site_actions import back_up, sync_feed
from tui.stations import StationsTable
from tui.statusline import status_line
from tui.wifi import WifiPane

AGE_REFRESH_S = 5.0
# Stations changed at once from which one list fetch beats a fetch per station.
WHOLE_LIST_FROM = 20
# Stored events that change what a station row shows: the row is fetched again when one arrives.
_STATION_EVENTS = family("station_") | kinds("version_changed", "image_assigned", "ota_held")
# Stored events that change what a station's detail screen shows while it is open.
_DETAIL_EVENTS = _STATION_EVENTS | family("command_", "alert_")
# The service's clock stepped or was synchronised: every stamp it sent before may have moved.
_CLOCK_EVENTS = family("clock_")
_IMAGE_EVENTS = family("image_")
_ALERT_EVENTS = family("alert_")
_ROLLOUT_EVENTS = family("rollout_")
_LAN_EVENTS = kinds("lan_seen", "lan_gone")
_AWAITING_EVENTS = family("bundle_") | kinds("station_arrived")


class StationmasterApp(App[None]):
    """Stations, firmware, events and the LAN, live; every action goes through the admin API."""

    TITLE = "Stationmaster"
    AUTO_FOCUS = "#stations-table"  # the admin lands on the list, ready for arrows and Enter
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses live in other modules
    COMMANDS = App.COMMANDS | {StationmasterCommands}
    BINDINGS = [
        # The tab keys are marked in the tabs' own titles: the key bar keeps its room for the view's keys.
        Binding("s", "show_tab('stations')", "Stations", show=False, tooltip="The station list"),
        Binding("f", "show_tab('firmware')", "Firmware", show=False, tooltip="The firmware library"),
        Binding("u", "show_tab('rollouts')", "Rollouts", show=False, tooltip="Staged rollouts, wave by wave"),
        Binding("e", "show_tab('events')", "Events", show=False, tooltip="The live event log"),
        Binding("exclamation_mark", "show_tab('alerts')", "Alerts", show=False, tooltip="What needs your eye"),
        Binding("l", "show_tab('lan')", "LAN", show=False, tooltip="Every ESP that mDNS shows on the LAN"),
        Binding("n", "show_tab('onboarding')", "Onboarding", show=False, tooltip="Bring new stations in"),
        Binding("w", "show_tab('wifi')", "Wi-Fi", show=False, tooltip="The site's networks and their rotation"),
        Binding("slash", "filter", "Filter", tooltip="Filter the current list (Esc leaves the filter)"),
        Binding("escape", "leave_filter", "Leave filter", show=False),
        Binding("question_mark", "keys", "Keys", tooltip="Every key of this view"),
        Binding("q", "quit", "Quit", tooltip="Leave (the service keeps running)"),
    ]
    # Each tab's key, marked in its title: (id, title with the key underlined).
    TABS = (
        ("stations", "[b u]S[/]tations"),
        ("firmware", "[b u]F[/]irmware"),
        ("rollouts", "Rollo[b u]u[/]ts"),
        ("events", "[b u]E[/]vents"),
        ("alerts", "[b u]![/]Alerts"),
        ("lan", "[b u]L[/]AN"),
        ("onboarding", "O[b u]n[/]boarding"),
        ("wifi", "[b u]W[/]i-Fi"),
    )

    def __init__(self, socket_path: Path, remote: Remote | None = None) -> None:
        super().__init__()
        # `remote`: the socket is an SSH forward from the admin's own machine (`stationmaster --ssh`).
        self.link = ServiceLink(socket_path, remote)
        self.status: dict[str, Any] = {}
        self.service_time = ServiceTime()  # what ages and states are told by: the service's own clock
        self.link_up = False
        # Reloads come after a reconnect and after every stream gap, which can follow one another faster
        # than a reload takes: they fold into one more, never cancel the one under way.
        self.reload_all = Refetch(self, self._reload_everything, "reload_all")
        self.refresh_awaiting = Refetch(self, self._fetch_awaiting, "awaiting")
        self._stations_to_fetch: set[str] = set()
        self._fetch_stations = Refetch(self, self._fetch_changed_stations, "station-refresh")
        self._status_shown = ""
        self._banner_text = "Not connected to the service yet…"

    def compose(self) -> ComposeResult:
        titles = dict(self.TABS)
        yield Static(id="banner")
        with TabbedContent(initial="stations"):
            with TabPane(titles["stations"], id="stations"):
                yield Input(placeholder="filter: words, tags, states… (Enter keeps it, Esc leaves it)", id="filter")
                yield StationsTable(id="stations-table", now=self.service_time)
            with TabPane(titles["firmware"], id="firmware"):
                yield FirmwareTable(self.link.client, id="firmware-table")
            with TabPane(titles["rollouts"], id="rollouts"):
                yield RolloutsView(self.link.client, id="rollouts-view")
            with TabPane(titles["events"], id="events"):
                yield Input(placeholder="filter events… (Enter keeps it, Esc leaves it)", id="events-filter")
                yield EventsTable(self._station_name, id="events-table")
            with TabPane(titles["alerts"], id="alerts"):
                yield AlertsTable(self.link.client, self._station_name, id="alerts-table")
            with TabPane(titles["lan"], id="lan"):
                yield LanTable(self.link.client, self._station_name, id="lan-table")
                yield PushProgress(id="lan-progress")
            with TabPane(titles["onboarding"], id="onboarding"):
                yield OnboardingPane(self.link.client, id="onboarding-pane")
            with TabPane(titles["wifi"], id="wifi"):
                yield WifiPane(self.link.client, id="wifi-pane")
        yield Static(id="status")
        yield KeyBar()

    @property
    def stations_table(self) -> StationsTable:
        """The home table."""
        return self.query_one("#stations-table", StationsTable)

    @property
    def alerts_table(self) -> AlertsTable:
        """The open alerts."""
        return self.query_one("#alerts-table", AlertsTable)

    async def on_mount(self) -> None:
        """Open the link, start the stream, keep ages fresh."""
        await self.link.open()
        # Start streaming once the views exist: messages before that would have nowhere to go.
        self.call_after_refresh(self.pump)
        self.set_interval(AGE_REFRESH_S, self._tick)

    async def on_unmount(self) -> None:
        """Close the link."""
        await self.link.close()

    @work(exclusive=True, group="pump", exit_on_error=False)
    async def pump(self) -> None:
        """Keep the event stream flowing into this app's messages."""
        await self.link.pump(self)

    async def _reload_everything(self) -> None:
        """Fetch everything the views show."""
        client = self.link.client
        table, events_table = self.stations_table, self.query_one("#events-table", EventsTable)
        # What streams in while the snapshots are fetched is kept, to be applied over them.
        tickets = (table.since_snapshot.asked(), events_table.since_snapshot.asked())
        try:
            self.status = dict(await client.status())
            self.service_time.tell(self.status)
            self._show_version_notice()
            stations = await client.stations()
            events = await client.events(limit=200)
            awaiting = (await client.provisions())["awaiting"]
        except AdminError as exc:
            table.since_snapshot.abandon(tickets[0])
            events_table.since_snapshot.abandon(tickets[1])
            # A lost service: the stream notices too and reconnects; until then the banner says so.
            lost = isinstance(exc, ServiceUnavailable)
            self._show_banner(f"Lost the service ({exc.message}); reconnecting…" if lost else exc.message)
            return
        # The states depend on the service's poll interval: learn it before drawing a single row.
        table.poll_interval_s = self._poll_interval()
        if self.status.get("offline_after_s"):
            table.offline_after_intervals = float(self.status["offline_after_s"]) / self._poll_interval()
        table.load([dict(s) for s in stations] + as_station_rows(awaiting), tickets[0])
        events_table.load([dict(e) for e in events], tickets[1])
        self.query_one("#lan-table", LanTable).mdns_is(bool(self.status.get("mdns")))
        # The other views fetch their own: an event meanwhile makes them fetch once more, never land older.
        for view in (
            self.query_one("#firmware-table", FirmwareTable),
            self.alerts_table,
            self.query_one("#lan-table", LanTable),
            self.query_one(OnboardingPane),
            self.query_one(WifiPane),
            self.query_one(RolloutsView),
        ):
            view.reload()
        self._show_status()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The tab keys and the filter belong to the main screen: on a station's screen they do nothing."""
        if action in ("show_tab", "filter", "leave_filter") and self.screen is not self.screen_stack[0]:
            return False
        if action == "filter" and self.query(TabbedContent):
            return self.query_one(TabbedContent).active in ("stations", "events")
        return True

    def on_link_up(self, _: LinkUp) -> None:
        """Connected (again): hide the banners and reload (a station's screen fetches what it missed too)."""
        self.link_up = True
        self._hide_banners()
        self.reload_all()
        if isinstance(self.screen, StationScreen):
            self.screen.reload()

    def on_link_resumed(self, _: LinkResumed) -> None:
        """Connected again, and the stream brought what was missed: hide the banner, fetch only the status."""
        self.link_up = True
        self._hide_banners()
        self.fetch_status()
        if isinstance(self.screen, StationScreen) and not self.screen.station:
            self.screen.reload()  # opened while the link was down: it has nothing yet to be kept up to date

    def _hide_banners(self) -> None:
        for screen in self.screen_stack:
            for banner in screen.query("#banner"):
                banner.remove_class("shown")

    @work(exclusive=True, group="status", exit_on_error=False)
    async def fetch_status(self) -> None:
        """Fetch the service's status and show it."""
        try:
            self.status = dict(await self.link.client.status())
        except AdminError:
            return  # the link broke again: its banner says so
        self.service_time.tell(self.status)
        self._show_version_notice()
        self._show_status()

    def _show_version_notice(self) -> None:
        """An appliance of another version: say so above everything, calmly, while the link is up."""
        notice = version_notice(self.status)
        if notice is not None:
            self._show_banner(notice, notice=True)

    def on_link_down(self, message: LinkDown) -> None:
        """The link broke: say so on every screen; the link retries by itself."""
        self.link_up = False
        self._show_banner(f"Lost the service ({message.reason}); reconnecting…")

    def on_service_messages(self, message: ServiceMessages) -> None:
        """Route a batch of streamed messages to the views they change."""
        if not self.query("#stations-table"):
            return  # the views are gone (the app is closing): the messages have nowhere to go
        latest_checkin: dict[str, dict[str, Any]] = {}
        for payload in message.payloads:
            if payload.get("kind") == "stream_gap":
                # The service dropped messages this app was too slow to take: what it shows may have holes.
                self.reload_all()
            elif payload.get("kind") == "checkin":
                latest_checkin[str(payload["mac"])] = payload  # a station's newest check-in says it all
            else:
                self._route(payload)
        for payload in latest_checkin.values():
            self.stations_table.apply_checkin(payload)
        screen = self.screen
        if isinstance(screen, StationScreen) and screen.mac in latest_checkin:
            screen.apply_checkin(latest_checkin[screen.mac])

    def _route(self, payload: dict[str, Any]) -> None:
        kind = str(payload.get("kind"))
        if payload.get("id") is not None:
            self.query_one("#events-table", EventsTable).add_event(payload)
        if kind in _CLOCK_EVENTS:
            self.reload_all()
        mac = payload.get("mac")
        if mac and kind in _STATION_EVENTS:
            self.refresh_station(str(mac))
        if kind in _IMAGE_EVENTS:
            self.query_one("#firmware-table", FirmwareTable).reload()
        if kind in _ALERT_EVENTS:
            self.alerts_table.reload()
        screen = self.screen
        if mac and kind in _DETAIL_EVENTS and isinstance(screen, StationScreen) and screen.mac == mac:
            screen.reload()
        if kind in _ROLLOUT_EVENTS:
            self.query_one(RolloutsView).apply_event(payload)
        elif kind in _LAN_EVENTS:
            self.query_one("#lan-table", LanTable).reload()
        elif kind == "lan_push_progress":
            self.query_one("#lan-progress", PushProgress).advance(payload)
        self.query_one(OnboardingPane).route(kind)
        self.query_one(WifiPane).route(kind)
        if kind in _AWAITING_EVENTS:
            self.refresh_awaiting()

    async def _fetch_awaiting(self) -> None:
        """Bundles made, cancelled or arrived: the stations list's "awaiting" placeholders follow."""
        try:
            rows = as_station_rows((await self.link.client.provisions())["awaiting"])
        except AdminError:
            return
        table = self.stations_table
        wanted = {row["mac"] for row in rows}
        for key in [k for k in table.stations if k.startswith(AWAITING_KEY) and k not in wanted]:
            table.drop_row(key)
        for row in rows:
            table.upsert(row)
        self._show_status()

    def refresh_station(self, mac: str) -> None:
        """Fetch a station again soon and update its row (stations that change together are fetched together)."""
        self._stations_to_fetch.add(mac)
        self._fetch_stations()

    async def _fetch_changed_stations(self) -> None:
        macs, self._stations_to_fetch = self._stations_to_fetch, set()
        client = self.link.client
        try:
            if len(macs) >= WHOLE_LIST_FROM:
                # A site's worth at once (a new appliance discovering its fleet): one list, not a request each.
                stations = [s for s in await client.stations() if s["mac"] in macs]
            else:
                answers = await asyncio.gather(*(client.station(mac) for mac in macs), return_exceptions=True)
                # A station gone meanwhile answers 404: nothing to draw for it.
                stations = [a for a in answers if isinstance(a, dict)]
        except AdminError:
            return  # the link is down: the reload after the reconnect draws everything
        renamed = False
        for station in stations:
            before = self.stations_table.stations.get(station["mac"], {})
            renamed |= before.get("name") != station.get("name")
            self.stations_table.upsert(dict(station))
        if renamed:  # the other views name stations too
            self.query_one("#events-table", EventsTable).refresh_names()
            self.alerts_table.refresh_names()
        self._show_status()

    @on(StationsTable.RowSelected, "#stations-table")
    def _station_chosen(self, event: StationsTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.open_station(str(event.row_key.value))

    def open_station(self, mac: str, then: str | None = None) -> None:
        """Show one station in full, then run its action `then` if given (a bundle not yet arrived: Onboarding)."""
        if mac.startswith(AWAITING_KEY):
            self.action_show_tab("onboarding")
            self.notify(f"{mac.removeprefix(AWAITING_KEY)} has not checked in yet: its bundle is awaited")
            return
        screen = StationScreen(self.link.client, mac, self._poll_interval(), then=then)
        self.push_screen(screen)
        if not self.link_up:
            screen.call_after_refresh(screen.show_banner, self._banner_text)

    def run_palette_action(self, action: str) -> None:
        """Run an action string such as "show_tab('events')" chosen in the palette (from the main screen)."""
        if isinstance(self.screen, StationScreen):
            self.pop_screen()
        self.call_later(self.run_action, action)

    def action_show_tab(self, tab: str) -> None:
        """Switch to a tab and put the keyboard on its list."""
        self.query_one(TabbedContent).active = tab
        self.query_one(f"#{tab}-table").focus()

    def action_filter(self) -> None:
        """Show and focus the filter of the current list (the Stations' or the Events')."""
        active = self.query_one(TabbedContent).active
        if active not in ("stations", "events"):
            self.notify("/ filters the Stations and Events lists", severity="warning")
            return
        field = self.query_one("#events-filter" if active == "events" else "#filter", Input)
        field.add_class("shown")
        field.focus()

    def action_leave_filter(self) -> None:
        """Esc in a filter: clear it, hide it, and give the keys back to the list."""
        field = self.focused
        if not isinstance(field, Input) or field.id not in ("filter", "events-filter"):
            return
        field.value = ""
        field.remove_class("shown")
        self.query_one("#events-table" if field.id == "events-filter" else "#stations-table").focus()

    def action_keys(self) -> None:
        """Show every key of the view (`?` or Esc closes it)."""
        self.push_screen(KeysHelp(help_entries(self)))

    def action_import_firmware(self) -> None:
        """Go to the firmware library and start an import."""
        self.action_show_tab("firmware")
        self.query_one("#firmware-table", FirmwareTable).action_import_image()

    def action_backup(self) -> None:
        """Save a backup of the site (secrets left out) in the home folder of whoever runs the TUI."""
        self.run_worker(back_up(self, self.link.client), group="site", exit_on_error=False)

    def action_sync_feed(self) -> None:
        """Look at the release feed now and fetch what is new."""
        self.run_worker(sync_feed(self, self.link.client), group="site", exit_on_error=False)

    def action_new_bundle(self) -> None:
        """Go to the Onboarding tab and start a bench bundle."""
        self.action_show_tab("onboarding")
        self.query_one(BenchBundleRoad).new_bundle()

    def action_add_wifi(self) -> None:
        """Go to the Wi-Fi tab and add a network."""
        self.action_show_tab("wifi")
        self.query_one(WifiPane).add_network()

    def action_reload(self) -> None:
        """Fetch everything again."""
        self.reload_all()

    @on(TabbedContent.TabActivated)
    def _tab_shown(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()  # the key bar shows what acts on this tab
        # What these tabs show moves with every check-in, not only with events: fresh when looked at.
        if event.pane.id == "wifi":
            self.query_one(WifiPane).reload()
        elif event.pane.id == "onboarding":
            self.query_one(OnboardingPane).reload()

    @on(Input.Changed, "#filter")
    def _filter_stations(self, event: Input.Changed) -> None:
        self.stations_table.set_filter(event.value)

    @on(Input.Changed, "#events-filter")
    def _filter_events(self, event: Input.Changed) -> None:
        self.query_one("#events-table", EventsTable).set_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.stations_table.focus()

    @on(Input.Submitted, "#events-filter")
    def _events_filter_done(self) -> None:
        self.query_one("#events-table", EventsTable).focus()

    def _tick(self) -> None:
        self.stations_table.refresh_ages()
        self.query_one("#lan-table", LanTable).refresh_ages()
        self.alerts_table.refresh_names()
        if isinstance(self.screen, StationScreen):
            self.screen.refresh_ages()
        self._show_status()

    def _station_name(self, mac: str) -> str | None:
        station = self.stations_table.stations.get(mac)
        return None if station is None else str(station.get("name") or mac)

    def _poll_interval(self) -> float:
        return float(self.status.get("poll_interval_s") or 60)

    def _show_banner(self, text: str, *, notice: bool = False) -> None:
        self._banner_text = text
        for screen in self.screen_stack:
            for banner in screen.query("#banner").results(Static):
                banner.set_class(notice, "notice")  # a notice informs; without the class the banner warns
                banner.update(text)
                banner.add_class("shown")

    def show_status(self) -> None:
        """Redraw the status line (the alerts view calls it when the count changes)."""
        self._show_status()

    def _show_status(self) -> None:
        table = self.stations_table
        table.poll_interval_s = self._poll_interval()
        alerts = self.alerts_table.row_count if self.query("#alerts-table") else 0
        line = status_line(self.status, table.counts(), alerts, self.service_time())
        if line != self._status_shown:  # a repaint costs the link bytes: only when the words change
            self._status_shown = line
            self.query_one("#status", Static).update(line)
