"""The home view: every station, live, sortable and filterable, updated cell by cell."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from tui.catchup import SinceSnapshot
from tui.states import age, rssi_label, state_label, station_state

COLUMNS = (
    ("name", "Name"),
    ("state", "State"),
    ("chip", "Chip"),
    ("version", "Version"),
    ("rssi", "dBm"),
    ("seen", "Seen"),
    ("cause", "Restart"),
    ("ip", "IP"),
)
# Shown only when the terminal is wide enough for them: the 80-column view keeps what matters most.
WIDE_COLUMNS = (
    ("mac", "MAC"),
    ("tags", "Tags"),
    ("uptime", "Up"),
    ("heap", "Heap"),
    ("bssid", "Access point"),
)
WIDE_FROM = 140  # columns of terminal


class StationsTable(DataTable[Any]):
    """A DataTable keyed by MAC; a check-in rewrites only the cells that changed."""

    BINDINGS = [
        Binding("o", "cycle_sort", "Sort", tooltip="Sort by the next column"),
    ]

    def __init__(self, *, now: Callable[[], float] = time.time, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.now = now  # the service's time: what its stamps are aged by
        self.stations: dict[str, dict[str, Any]] = {}
        self.poll_interval_s = 60.0
        self.offline_after_intervals = 3.0  # the service's setting, from its status
        self.filter_text = ""
        self._previous_rssi: dict[str, int | None] = {}
        self._shown: dict[str, dict[str, str]] = {}  # the text in each row's cells, to skip unchanged ones
        self._sort_index = 0
        self.wide = False
        # Live changes that came while a full reload fetched its snapshot, replayed over it when it lands:
        # without them the older snapshot would undo them (a station discovered meanwhile would vanish).
        # Keyed by (change, MAC): a busy fleet's check-ins fold into one entry per station.
        self.since_snapshot: SinceSnapshot[tuple[str, str], Any] = SinceSnapshot(_fold_checkins)

    def on_mount(self) -> None:
        """Lay out the columns."""
        self._lay_out_columns()

    def on_resize(self) -> None:
        """Show the wide columns when there is room for them (a rebuild only when crossing the threshold)."""
        wide = self.app.size.width >= WIDE_FROM
        if wide != self.wide:
            self.wide = wide
            current = self.current_mac()
            self.clear(columns=True)
            self._lay_out_columns()
            self._rebuild()
            if current is not None and current in self.rows:
                self.move_cursor(row=self.get_row_index(current))

    @property
    def sortable(self) -> list[str]:
        """The columns `o` cycles through, in the order shown."""
        return [key for key, _ in self._columns_shown()]

    def load(self, stations: list[dict[str, Any]], ticket: int | None = None) -> None:
        """Replace everything (at start and after a reconnect), keeping the cursor on the same station.

        With a ticket from `since_snapshot.asked()`, what changed live since then is applied over `stations`.
        """
        current = self.current_mac()
        self.stations = {s["mac"]: s for s in stations}
        self._rebuild()
        replay: dict[str, Callable[[Any], None]] = {
            "checkin": self.apply_checkin,
            "upsert": self.upsert,
            "drop": self.drop_row,
        }
        for (change, _), value in self.since_snapshot.take(ticket).items():
            replay[change](value)
        if current in self.stations and current in self.rows:
            self.move_cursor(row=self.get_row_index(current))

    def apply_checkin(self, payload: dict[str, Any]) -> None:
        """Fold a live check-in into its row without touching the cursor or the scroll."""
        mac = payload["mac"]
        self.since_snapshot.keep(("checkin", mac), payload)
        station = self.stations.get(mac)
        if station is None:
            return  # a new station arrives with its own stored event; the app reloads then
        self._previous_rssi[mac] = station.get("rssi")
        station.update({k: v for k, v in payload.items() if k not in ("id", "kind", "message", "at")})
        station["last_seen_at"] = payload.get("at", self.now())
        if mac in self.rows:
            self._update_row(mac, self._cells(station))

    def upsert(self, station: dict[str, Any]) -> None:
        """Add or refresh one station's row (after an action or a stored event)."""
        self.since_snapshot.keep(("upsert", station["mac"]), station)
        self.stations[station["mac"]] = station
        if station["mac"] in self.rows:
            self._update_row(station["mac"], self._cells(station))
        elif self._visible(station):
            self._add(station)

    def drop_row(self, key: str) -> None:
        """Take one row away (a placeholder whose station has arrived under its own MAC)."""
        self.since_snapshot.keep(("drop", key), key)
        self.stations.pop(key, None)
        self._shown.pop(key, None)
        if key in self.rows:
            self.remove_row(key)

    def refresh_ages(self) -> None:
        """Re-derive state and 'last seen' for every row (time passes even when nothing checks in)."""
        for key in list(self.rows):
            station = self.stations.get(str(key.value))
            if station is not None:
                self._update_row(str(key.value), self._cells(station))

    def set_filter(self, text: str) -> None:
        """Show only stations whose name, MAC, IP, chip, version, state or tags contain `text`."""
        self.filter_text = text.strip().lower()
        self._rebuild()

    def current_mac(self) -> str | None:
        """The MAC under the cursor, if any."""
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return None if key.value is None else str(key.value)

    def action_cycle_sort(self) -> None:
        """Sort by the next column."""
        self._sort_index = (self._sort_index + 1) % len(self.sortable)
        self._sort()

    def counts(self) -> dict[str, int]:
        """How many stations are in each state."""
        result: dict[str, int] = {}
        for station in self.stations.values():
            state = self._state(station)
            result[state] = result.get(state, 0) + 1
        return result

    def _state(self, station: dict[str, Any]) -> str:
        return station_state(
            station, self.poll_interval_s, now=self.now(), offline_after_intervals=self.offline_after_intervals
        )

    def _rebuild(self) -> None:
        self.clear()
        self._shown.clear()
        for station in self.stations.values():
            if self._visible(station):
                self._add(station)
        self._sort()

    def _add(self, station: dict[str, Any]) -> None:
        cells = self._cells(station)
        self.add_row(*cells.values(), key=station["mac"])
        self._shown[station["mac"]] = {k: _text(v) for k, v in cells.items()}

    def _update_row(self, mac: str, cells: dict[str, Any]) -> None:
        """Rewrite only the cells whose text changed: with 1,000 stations most of a row stays as it was."""
        shown = self._shown.setdefault(mac, {})
        for key, value in cells.items():
            text = _text(value)
            if shown.get(key) != text:
                shown[key] = text
                self.update_cell(mac, key, value)

    def _columns_shown(self) -> tuple[tuple[str, str], ...]:
        return COLUMNS + WIDE_COLUMNS if self.wide else COLUMNS

    def _lay_out_columns(self) -> None:
        for key, label in self._columns_shown():
            self.add_column(label, key=key)

    def _sort(self) -> None:
        columns = self.sortable
        column = columns[self._sort_index % len(columns)]
        self.sort(column, key=lambda cell: str(cell).lower() if not isinstance(cell, Text) else cell.plain.lower())

    def _visible(self, station: dict[str, Any]) -> bool:
        if not self.filter_text:
            return True
        words = [station.get(k) or "" for k in ("name", "mac", "ip", "chip", "version", "status")]
        words += list(station.get("tags") or [])
        words.append(self._state(station))
        haystack = " ".join(str(w) for w in words).lower()
        return all(part in haystack for part in self.filter_text.split())

    def _cells(self, station: dict[str, Any]) -> dict[str, Any]:
        version = station.get("version") or "-"
        target = station.get("assigned_version")
        if target and target != station.get("version"):
            version = f"{version} → {target}"
        cells: dict[str, Any] = {
            "name": station.get("name") or station["mac"],
            "state": state_label(self._state(station)),
            "chip": station.get("chip") or "?",
            "version": version,
            "rssi": rssi_label(station.get("rssi"), self._previous_rssi.get(station["mac"])),
            "seen": age(station.get("last_seen_at"), now=self.now()),
            "cause": station.get("restart_cause") or "-",
            "ip": station.get("ip") or "-",
        }
        if self.wide:
            heap = station.get("free_heap")
            uptime = station.get("uptime_s")
            cells.update(
                {
                    "mac": station["mac"],
                    "tags": " ".join(station.get("tags") or ()) or "-",
                    "uptime": "-" if uptime is None else age(0, now=float(uptime)),
                    "heap": "-" if heap is None else f"{heap // 1024} KiB",
                    "bssid": station.get("bssid") or "-",
                }
            )
        return cells


def _fold_checkins(earlier: Any, later: Any) -> Any:
    """A check-in updates the fields it carries: two in a row amount to both, the later winning."""
    return {**earlier, **later} if isinstance(earlier, dict) else later


def _text(value: Any) -> str:
    return value.plain if isinstance(value, Text) else str(value)
