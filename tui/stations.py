"""The home view: every station, live, sortable and filterable, updated cell by cell."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.binding import Binding

from tui.catchup import SinceSnapshot
from tui.livetable import LiveTable
from tui.sorting import address, natural, number
from tui.states import LATE_AFTER_INTERVALS, age, coarse_age, rssi_label, state_label, station_state

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
# Sorted by state, the stations that need the admin come first.
_STATE_RANK = {"offline": 0, "late": 1, "pending": 2, "awaiting": 3, "online": 4, "rejected": 5, "retired": 6}
NO_STATIONS = "No stations yet. They appear here when they check in; n (Onboarding) brings new ones in."


class StationsTable(LiveTable):
    """A table keyed by MAC; a check-in rewrites only the cells that changed, and only rows on screen repaint.

    Rows keep their place as they change (the list does not shuffle under the cursor); a new station is
    placed where the order puts it, and `o` / `O` sort again.
    """

    BINDINGS = [
        Binding("enter", "select_cursor", "Open", tooltip="The station in full, with its actions"),
        Binding("o", "cycle_sort", "Sort", tooltip="Sort by the next column"),
        Binding("O", "reverse_sort", "Reverse sort", show=False, tooltip="Sort the other way"),
    ]

    def __init__(self, *, now: Callable[[], float] = time.time, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.now = now  # the service's time: what its stamps are aged by
        self.stations: dict[str, dict[str, Any]] = {}
        self.poll_interval_s = 60.0
        self.offline_after_intervals = 3.0  # the service's setting, from its status
        self.filter_text = ""
        self._previous_rssi: dict[str, int | None] = {}
        self._sort_index = 0
        self.reverse = False
        self.wide = False
        self._placing = False  # new rows wait for one re-sort after this refresh
        self.empty_text = NO_STATIONS
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
            self._rebuild(columns=True)

    @property
    def sortable(self) -> list[str]:
        """The columns `o` cycles through, in the order shown."""
        return [key for key, _ in self._columns_shown()]

    @property
    def sort_column(self) -> str:
        """The column the list is sorted by."""
        return self.sortable[self._sort_index % len(self.sortable)]

    def load(self, stations: list[dict[str, Any]], ticket: int | None = None) -> None:
        """Replace everything (at start and after a reconnect), keeping the cursor on the same station.

        With a ticket from `since_snapshot.asked()`, what changed live since then is applied over `stations`.
        """
        self.stations = {s["mac"]: s for s in stations}
        replay: dict[str, Callable[[Any], object]] = {
            "checkin": self._fold_checkin,
            "upsert": lambda station: self.stations.__setitem__(station["mac"], station),
            "drop": lambda key: self.stations.pop(key, None),
        }
        for (change, _), value in self.since_snapshot.take(ticket).items():
            replay[change](value)
        self._rebuild()

    def apply_checkin(self, payload: dict[str, Any]) -> None:
        """Fold a live check-in into its row without touching the cursor or the scroll."""
        self.since_snapshot.keep(("checkin", payload["mac"]), payload)
        station = self._fold_checkin(payload)
        if station is not None:
            self.set_cells(station["mac"], self._cells(station))

    def upsert(self, station: dict[str, Any]) -> None:
        """Add or refresh one station's row (after an action or a stored event)."""
        self.since_snapshot.keep(("upsert", station["mac"]), station)
        held = self.stations.get(station["mac"])
        if held is not None and held.get("rssi") != station.get("rssi"):
            # Fetched after a check-in the stream has not brought yet: the trend is against what was shown.
            self._previous_rssi[station["mac"]] = held.get("rssi")
        self.stations[station["mac"]] = station
        if station["mac"] in self._shown:
            self.set_cells(station["mac"], self._cells(station))
        elif self._visible(station):
            self.add_keyed(station["mac"], self._cells(station))
            self._place_new_rows()

    def drop_row(self, key: str) -> None:
        """Take one row away (a placeholder whose station has arrived under its own MAC)."""
        self.since_snapshot.keep(("drop", key), key)
        self.stations.pop(key, None)
        self.remove_keyed(key)

    def refresh_ages(self) -> None:
        """Re-derive state and 'last seen' for every row (time passes even when nothing checks in).

        Only cells whose text changed are rewritten, and only rows on screen repaint: ages move in coarse
        steps, so most ticks change nothing at all.
        """
        for mac in self.keys():
            station = self.stations.get(mac)
            if station is not None:
                self.set_cells(mac, self._aging_cells(station))

    def set_filter(self, text: str) -> None:
        """Show only stations whose name, MAC, IP, chip, version, state or tags contain `text`."""
        self.filter_text = text.strip().lower()
        self.empty_text = (
            f'No station matches "{text.strip()}" (Esc clears the filter).' if self.filter_text else NO_STATIONS
        )
        self._rebuild()

    def current_mac(self) -> str | None:
        """The MAC under the cursor, if any."""
        return self.current_key()

    def item_words(self) -> str | None:
        """The station under the cursor, by name."""
        station = self.stations.get(self.current_key() or "")
        return None if station is None else str(station.get("name") or station["mac"])

    def action_cycle_sort(self) -> None:
        """Sort by the next column."""
        self._sort_index = (self._sort_index + 1) % len(self.sortable)
        self.reverse = False
        self._rebuild(columns=True)

    def action_reverse_sort(self) -> None:
        """Sort the other way."""
        self.reverse = not self.reverse
        self._rebuild(columns=True)

    def counts(self) -> dict[str, int]:
        """How many stations are in each state."""
        result: dict[str, int] = {}
        for station in self.stations.values():
            state = self._state(station)
            result[state] = result.get(state, 0) + 1
        return result

    def _fold_checkin(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        station = self.stations.get(payload["mac"])
        if station is None:
            return None  # a new station arrives with its own stored event; the app fetches it then
        seen = station.get("last_seen_at")
        if seen is None or "at" not in payload or float(payload["at"]) > float(seen):
            # A check-in a fetch already showed (same moment) leaves the trend as that fetch set it.
            self._previous_rssi[station["mac"]] = station.get("rssi")
        station.update({k: v for k, v in payload.items() if k not in ("id", "kind", "message", "at")})
        station["last_seen_at"] = payload.get("at", self.now())
        return station

    def _rebuild(self, *, columns: bool = False) -> None:
        ordered = sorted(
            (s for s in self.stations.values() if self._visible(s)), key=self._sort_key, reverse=self.reverse
        )
        rows = [(s["mac"], self._cells(s)) for s in ordered]
        if not columns:
            self.show_rows(rows)
            return
        with self.cursor_kept():
            self.clear(columns=True)
            self._shown.clear()
            self._lay_out_columns()
            for key, cells in rows:
                self.add_keyed(key, cells)

    def _place_new_rows(self) -> None:
        # A fleet discovered at once adds hundreds of rows in one go: one sort after them, not one each.
        if not self._placing:
            self._placing = True
            self.call_after_refresh(self._placed)

    def _placed(self) -> None:
        self._placing = False
        self._rebuild()

    def _columns_shown(self) -> tuple[tuple[str, str], ...]:
        return COLUMNS + WIDE_COLUMNS if self.wide else COLUMNS

    def _lay_out_columns(self) -> None:
        for key, label in self._columns_shown():
            if key == self.sort_column:
                label += " ▼" if self.reverse else " ▲"
            self.add_column(label, key=key)

    def _sort_key(self, station: dict[str, Any]) -> tuple[Any, ...]:
        """The value a column sorts by: numbers as numbers, addresses and versions part by part."""
        column = self.sort_column
        name = natural(str(station.get("name") or station["mac"]))
        value: Any
        if column == "state":
            value = _STATE_RANK.get(self._state(station), 9)
        elif column == "rssi":
            value = number(station.get("rssi"))
        elif column == "seen":
            seen = station.get("last_seen_at")
            value = float("inf") if seen is None else -float(seen)  # the most recently seen first
        elif column == "uptime":
            value = number(station.get("uptime_s"))
        elif column == "heap":
            value = number(station.get("free_heap"))
        elif column == "ip":
            value = address(station.get("ip"))
        elif column == "tags":
            value = natural(" ".join(station.get("tags") or ()) or "\uffff")
        else:
            field = {"cause": "restart_cause"}.get(column, column)
            value = natural(str(station.get(field) or "\uffff"))
        return (value, name)

    def _visible(self, station: dict[str, Any]) -> bool:
        if not self.filter_text:
            return True
        words = [station.get(k) or "" for k in ("name", "mac", "ip", "chip", "version", "status")]
        words += list(station.get("tags") or [])
        words.append(self._state(station))
        haystack = " ".join(str(w) for w in words).lower()
        return all(part in haystack for part in self.filter_text.split())

    def _state(self, station: dict[str, Any]) -> str:
        return station_state(
            station, self.poll_interval_s, now=self.now(), offline_after_intervals=self.offline_after_intervals
        )

    def _aging_cells(self, station: dict[str, Any]) -> dict[str, Any]:
        """The cells that change as time passes, with nothing else."""
        return {
            "state": state_label(self._state(station)),
            # On time is by the station's own pace when it is slower (a stock sketch polling every 10 min).
            "seen": coarse_age(
                station.get("last_seen_at"),
                max(self.poll_interval_s, float(station.get("seen_period_s") or 0)) * LATE_AFTER_INTERVALS,
                now=self.now(),
            ),
        }

    def _cells(self, station: dict[str, Any]) -> dict[str, Any]:
        version = station.get("version") or "-"
        target = station.get("assigned_version")
        if target and target != station.get("version"):
            version = f"{version} → {target}"
        aging = self._aging_cells(station)
        cells: dict[str, Any] = {
            "name": station.get("name") or station["mac"],
            "state": aging["state"],
            "chip": station.get("chip") or "?",
            "version": version,
            "rssi": rssi_label(station.get("rssi"), self._previous_rssi.get(station["mac"])),
            "seen": aging["seen"],
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
