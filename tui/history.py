"""A station's history as a small chart with its axis: one column per sample (or per few), oldest on the left.

A sparkline stretches what it has over the whole width: one sample became a solid block, and no axis said
what the bars meant. Here the scale is printed beside the bars and a few samples stay a few columns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual.widgets import Static

_BLOCKS = " ▁▂▃▄▅▆▇█"
AXIS_WIDTH = 10


def chart(values: Sequence[float], width: int, height: int, label: Callable[[float], str], style: str = "") -> Text:
    """Bars of `values` (oldest first) in `height` rows, at most `width` columns with the axis labels."""
    if not values:
        return Text("no history yet", style="dim")
    columns = max(1, width - AXIS_WIDTH - 1)
    if len(values) > columns:
        # More samples than columns: each column shows the lowest of its share (the dips are what matter).
        size = len(values) / columns
        values = [min(values[int(i * size) : max(int((i + 1) * size), int(i * size) + 1)]) for i in range(columns)]
    low, high = min(values), max(values)
    if high == low:
        low, high = low - 1, high + 1  # a flat line sits in the middle, not at the top
    levels = height * (len(_BLOCKS) - 1)
    heights = [round((v - low) / (high - low) * (levels - 1)) + 1 for v in values]
    text = Text()
    for row in range(height - 1, -1, -1):
        axis = label(high) if row == height - 1 else label(low) if row == 0 else ""
        text.append(f"{axis:>{AXIS_WIDTH}}┤" if axis else " " * AXIS_WIDTH + "│", style="dim")
        cells = "".join(_BLOCKS[max(0, min(len(_BLOCKS) - 1, h - row * (len(_BLOCKS) - 1)))] for h in heights)
        text.append(cells, style=style)
        text.append("\n")
    return text


class History(Static):
    """A chart of one series at the widget's own width; `show` gives it new samples."""

    DEFAULT_CSS = "History { height: auto; }"

    def __init__(self, label: Callable[[float], str], rows: int = 3, style: str = "", **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.label, self.rows, self.style = label, rows, style
        self.values: list[float] = []

    def show(self, values: Sequence[float]) -> None:
        """Draw these samples (oldest first) when they differ from what is shown."""
        if list(values) != self.values:
            self.values = list(values)
            self.refresh(layout=True)

    def render(self) -> Text:
        """The chart at the current width."""
        width = self.content_size.width or self.app.size.width
        drawn = chart(self.values, width, self.rows, self.label, self.style)
        drawn.rstrip()
        return drawn


def samples(count: int) -> str:
    """'1 sample', '9 samples'."""
    return f"{count} sample{'' if count == 1 else 's'}"
