"""The alerts: what needs the admin's eye (weak signal, reboot loops, silent stations, wrong versions), live."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.binding import Binding

from appliance.contract.client import AdminClient, AdminError
from appliance.contract.shapes import Alert
from tui.catchup import Refetch
from tui.dialogs import one_at_a_time
from tui.livetable import LiveTable
from tui.states import ago

NO_ALERTS = "No open alerts. Weak signals, reboot loops, silent stations and wrong versions show up here."
StationName = Callable[[str], str | None]

# By word as well as colour: a 16-colour or colourless terminal still tells them apart.
_LOOK = {
    "offline": ("○ offline", "red"),
    "reboot_loop": ("↻ reboot loop", "red"),
    "wrong_version": ("≠ wrong version", "magenta"),
    "weak_signal": ("▁ weak signal", "yellow"),
}


def alert_label(kind: str) -> Text:
    """An alert kind as symbol and words, coloured."""
    words, colour = _LOOK.get(kind, (f"! {kind.replace('_', ' ')}", "yellow"))
    return Text(words, style=colour)


class AlertsTable(LiveTable):
    """Open alerts, newest first, keyed by id; Enter opens the station, c clears (dismisses) the alert."""

    BINDINGS = [
        Binding("enter", "open_station", "Station", tooltip="The alert's station in full"),
        Binding("c", "clear_alert", "Clear", tooltip="Dismiss this alert (it returns if its cause does)"),
    ]

    def __init__(self, client: AdminClient, station_name: StationName | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client = client
        self.station_name = station_name or (lambda mac: None)  # the current name, from the stations view
        self.alerts: list[Alert] = []
        self._refetch = Refetch(self, self._fetch, "alerts")
        self.empty_text = NO_ALERTS

    def on_mount(self) -> None:
        """Lay out the columns."""
        for key, label in (("raised", "Raised"), ("kind", "Alert"), ("station", "Station"), ("message", "Message")):
            self.add_column(label, key=key)

    def load(self, alerts: list[Alert]) -> None:
        """Show these open alerts (newest first); the cursor stays on the alert it was on."""
        self.alerts = alerts
        self.show_rows([(str(alert["id"]), self._cells(alert)) for alert in alerts])

    def refresh_names(self) -> None:
        """Station names changed (a rename), or time passed: the cells follow."""
        for alert in self.alerts:
            self.set_cells(str(alert["id"]), self._cells(alert))

    def reload(self) -> None:
        """Fetch the open alerts again (after an `alert_*` event; asks during a fetch fold into one more)."""
        self._refetch()

    async def _fetch(self) -> None:
        try:
            self.load(await self.client.alerts())
        except AdminError:
            return
        refresh = getattr(self.app, "show_status", None)
        if callable(refresh):
            refresh()

    def selected(self) -> Alert | None:
        """The alert under the cursor, if any."""
        key = self.current_key()
        return next((a for a in self.alerts if str(a["id"]) == key), None)

    def item_words(self) -> str | None:
        """The alert under the cursor: its kind and station."""
        alert = self.selected()
        if alert is None:
            return None
        mac = alert.get("mac") or ""
        return f"{alert_label(alert['kind']).plain} alert on {(self.station_name(mac) or mac) if mac else 'the site'}"

    def action_open_station(self) -> None:
        """Open the station of the alert under the cursor."""
        alert = self.selected()
        if alert is None or not alert.get("mac"):
            self.notify("this alert is about no one station", severity="warning")
            return
        opener = getattr(self.app, "open_station", None)
        if callable(opener):
            opener(str(alert["mac"]))

    @one_at_a_time("alerts-action")
    async def action_clear_alert(self) -> None:
        """Dismiss the alert under the cursor."""
        alert = self.selected()
        if alert is None:
            self.notify("no alert to clear", severity="warning")
            return
        try:
            await self.client.clear_alert(int(alert["id"]))
        except AdminError as exc:
            self.notify(exc.message, title="Refused", severity="error")
            return
        self.reload()

    def _cells(self, alert: Alert) -> dict[str, Any]:
        mac = alert.get("mac") or ""
        return {
            "raised": ago(alert["raised_at"]),
            "kind": alert_label(alert["kind"]),
            "station": (self.station_name(mac) or mac) if mac else "-",
            "message": alert["message"],
        }
