"""A table whose rows change in place under a live stream: light on the wire, and the cursor never changes row.

Every list of the TUI is one of these. Rows are keyed (a MAC, a digest, an id) and the cursor follows its
key: through reloads, re-sorts and rows added or taken away above it, it stays on the item the admin chose,
so a key pressed next acts on that item. A change rewrites only the cells whose text changed and repaints
only those cells, and only when they are on screen: a thousand stations checking in cost the terminal the
cells it shows that changed, not the whole table each time (DataTable's own `update_cell` repaints it all).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.coordinate import Coordinate
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

Cells = Mapping[str, Any]


class LiveTable(DataTable[Any]):
    """A DataTable of keyed rows, changed cell by cell, its cursor kept on its key."""

    DEFAULT_CSS = """
    LiveTable { min-height: 3; }
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("zebra_stripes", True)
        super().__init__(**kwargs)
        self._shown: dict[str, dict[str, str]] = {}  # the text of each row's cells, to skip unchanged ones
        self._empty_text = ""
        self._wanted: str | None = None  # a key to go to once it is shown (an item just made)

    @property
    def empty_text(self) -> str:
        """What the table says when it has no rows: why, and what to do next."""
        return self._empty_text

    @empty_text.setter
    def empty_text(self, text: str) -> None:
        if text != self._empty_text:
            self._empty_text = text
            if not self.row_count:
                self.refresh()

    def lay_out(self, columns: Sequence[tuple[str, str]]) -> None:
        """Add the columns, as (key, label) pairs: rows then give their cells by column key."""
        for key, label in columns:
            self.add_column(label, key=key)

    def selected(self) -> Any:
        """The item under the cursor: its key here; tables that hold their items give the item."""
        return self.current_key()

    def current_key(self) -> str | None:
        """The key of the row under the cursor, if any."""
        if not self.row_count:
            return None
        value = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return None if value is None else str(value)

    def keys(self) -> list[str]:
        """The keys of the rows, top to bottom."""
        return [str(row.key.value) for row in self.ordered_rows]

    def move_to(self, key: str) -> bool:
        """Put the cursor on the row of `key` (scrolled into view); False when there is none."""
        if key not in self._shown:
            return False
        self.move_cursor(row=self.get_row_index(key))
        return True

    def go_to_when_shown(self, key: str) -> None:
        """Put the cursor on `key` now, or as soon as a reload shows it (an item the admin just made)."""
        self._wanted = None if self.move_to(key) else key

    def show_rows(self, rows: Sequence[tuple[str, Cells]]) -> None:
        """Show exactly these rows, in this order; the cursor stays on its key, the screen where it was.

        The same keys in the same order (a reload that found nothing new) change cells in place.
        """
        if [key for key, _ in rows] == self.keys():
            for key, cells in rows:
                self.set_cells(key, cells)
        else:
            with self.cursor_kept():
                self.clear()
                self._shown.clear()
                for key, cells in rows:
                    self.add_keyed(key, cells)
        if self._wanted is not None and self.move_to(self._wanted):
            self._wanted = None

    def add_keyed(self, key: str, cells: Cells) -> None:
        """Add a row at the bottom."""
        self.add_row(*cells.values(), key=key)
        self._shown[key] = {column: plain(value) for column, value in cells.items()}

    def set_cells(self, key: str, cells: Cells) -> None:
        """Rewrite the cells of a row whose text changed; repaint the row only if it is on screen."""
        shown = self._shown.get(key)
        if shown is None:
            return
        changed: list[str] = []
        for column, value in cells.items():
            text = plain(value)
            if shown.get(column) == text:
                continue
            shown[column] = text
            if cell_len(text) > self.columns[ColumnKey(column)].content_width:
                self.update_cell(key, column, value, update_width=True)  # the column grows: a layout anyway
                continue
            # What DataTable.update_cell does, minus its repaint of the whole table.
            self._data[RowKey(key)][ColumnKey(column)] = value
            changed.append(column)
        if changed:
            self._update_count += 1  # its render caches are keyed on this count
            index = self.get_row_index(key)
            if self._on_screen(index):
                # Only the cells that changed: a signal's new reading costs its own few columns, not the row.
                for column in changed:
                    self.refresh_coordinate(Coordinate(index, self.get_column_index(column)))

    def remove_keyed(self, key: str) -> None:
        """Take a row away; the cursor stays on its own key."""
        if key not in self._shown:
            return
        with self.cursor_kept():
            del self._shown[key]
            self.remove_row(key)

    @contextmanager
    def cursor_kept(self) -> Iterator[None]:
        """Whatever the block does to the rows, the cursor ends on the same key and at the same screen line.

        A key gone: the cursor stays at its index (the next row takes its place).
        """
        key, index = self.current_key(), self.cursor_row
        top = round(self.scroll_y)
        yield
        if not self.row_count:
            return
        target = self.get_row_index(key) if key is not None and key in self._shown else min(index, self.row_count - 1)
        if not top:
            # The admin looks at the top, where new rows come: the top stays in view, and the cursor with it.
            self.move_cursor(row=target)
            return
        # Rows came or went above: scroll by as much, so that what the admin looks at does not move.
        self.move_cursor(row=target, scroll=False)
        self.scroll_to(y=max(0, top + target - index), animate=False, immediate=True)

    def render_line(self, y: int) -> Strip:
        """A row; in an empty table, its note under the header."""
        first = self.header_height if self.show_header else 0
        if self.row_count or not self._empty_text or y < first:
            return super().render_line(y)
        console = self.app.console
        lines = Text(self._empty_text, style="italic").wrap(console, max(1, self.size.width - 2))
        if y - first >= len(lines):
            return Strip.blank(self.size.width, self.rich_style)
        line = Text(" ") + lines[y - first]
        return Strip(line.render(console, end="")).adjust_cell_length(self.size.width, self.rich_style)

    def _on_screen(self, index: int) -> bool:
        top = round(self.scroll_y)
        return self.is_on_screen and top <= index < top + self.size.height


def plain(value: object) -> str:
    """A cell's text, without its style."""
    return value.plain if isinstance(value, Text) else str(value)
