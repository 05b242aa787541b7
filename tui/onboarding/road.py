"""What every road in has: a title, a line saying when to take it, and a way to reload what it shows."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, Static

from appliance.contract.client import AdminClient
from appliance.contract.events import Kinds
from tui.catchup import Refetch


class Road(Vertical):
    """One road in, as its own widget: subclasses add their list and their wizard below the header."""

    DEFAULT_CSS = """
    Road { height: auto; margin-bottom: 1; border-top: solid $primary-darken-2; }
    Road > .road-title { text-style: bold; }
    Road > .road-summary { color: $text-muted; }
    Road DataTable { height: auto; max-height: 12; }
    """

    TITLE: ClassVar[str] = ""
    SUMMARY: ClassVar[str] = ""
    EVENTS: ClassVar[Kinds] = frozenset()
    """The event kinds that change what this road shows."""

    def __init__(self, client: AdminClient, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client = client
        self._refetch = Refetch(self, self.load, f"road-{type(self).__name__}")

    def compose(self) -> ComposeResult:
        """The header; subclasses yield from this, then their own widgets."""
        yield Label(self.TITLE, classes="road-title")
        yield Static(self.SUMMARY, classes="road-summary")

    def wants(self, kind: str) -> bool:
        """Whether an event of this kind changes what the road shows."""
        return kind in self.EVENTS

    def reload(self) -> None:
        """Fetch what the road shows again, in a worker; reloads asked for meanwhile fold into one more fetch."""
        # A flash's progress comes every 2 %: a fetch per event, cancelling the last, would never land.
        self._refetch()

    async def load(self) -> None:
        """Fetch and show what the road lists (each road its own)."""
