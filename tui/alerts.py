"""The alerts: what needs the admin's eye (weak signal, reboot loops, silent stations, wrong versions), live."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.widgets import DataTable

from appliance.contract.client import AdminClient, AdminError
from tui.catchup import Refetch
from tui.states import ago

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


class AlertsTable(DataTable[Any]):
    """Open alerts, newest first; c clears (dismisses) the one under the cursor."""

    BINDINGS = [Binding("c", "clear_alert", "Clear", tooltip="Dismiss this alert (it returns if its cause does)")]

    def __init__(self, client: AdminClient, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.client = client
        self.alerts: list[dict[str, Any]] = []
        self.names: dict[str, str] = {}  # station names by MAC, from the stations view
        self._refetch = Refetch(self, self._fetch, "alerts")

    def on_mount(self) -> None:
        """Lay out the columns."""
        for key, label in (("raised", "Raised"), ("kind", "Alert"), ("station", "Station"), ("message", "Message")):
            self.add_column(label, key=key)

    def load(self, alerts: list[dict[str, Any]]) -> None:
        """Show these open alerts (newest first)."""
        self.alerts = alerts
        self.clear()
        for alert in alerts:
            mac = alert.get("mac") or ""
            self.add_row(
                ago(alert["raised_at"]),
                alert_label(alert["kind"]),
                self.names.get(mac, mac) or "-",
                alert["message"],
                key=str(alert["id"]),
            )

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

    @work(group="alerts-action", exit_on_error=False)
    async def action_clear_alert(self) -> None:
        """Dismiss the alert under the cursor."""
        if not self.row_count:
            return
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        if key is None:
            return
        try:
            await self.client.clear_alert(int(key))
        except AdminError as exc:
            self.notify(exc.message, title="Refused", severity="error")
            return
        self.reload()
