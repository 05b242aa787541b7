"""Which keys act where: a key bar that wraps whole at any width, the `?` help, and what the palette offers.

The keys of a view are those of every widget in it (the tab shown, or the screen on top), not only of the
widget that has the focus: the help and the palette list them all.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Static, TabbedContent


def own_bindings(node: DOMNode) -> list[Binding]:
    """The bindings this node's own classes declare (the TUI's, not the widget library's arrows), shown ones first."""
    return class_bindings(type(node))


def class_bindings(cls: type[DOMNode]) -> list[Binding]:
    """The bindings a class of the TUI declares with those of its TUI bases (a subclass's key wins), shown first."""
    found: dict[str, Binding] = {}
    for klass in reversed(cls.__mro__):
        if klass.__module__.startswith("tui."):
            for binding in klass.__dict__.get("BINDINGS", []):
                if isinstance(binding, Binding):
                    found[binding.key] = binding
    return sorted(found.values(), key=lambda b: not b.show)


def view_root(app: Any, screen: Any = None) -> DOMNode:
    """What the admin looks at on `screen` (the one on top): the screen, or on the main screen the tab shown."""
    screen = app.screen if screen is None else screen
    if screen is app.screen_stack[0] and screen.query(TabbedContent):
        tabs = screen.query_one(TabbedContent)
        if tabs.active:
            pane: DOMNode = tabs.get_pane(tabs.active)
            return pane
    root: DOMNode = screen
    return root


def view_bindings(app: Any, screen: Any = None) -> Iterator[tuple[DOMNode, Binding]]:
    """Every binding of the view on `screen` (its widgets', in order), then the screen's and the app's."""
    screen = app.screen if screen is None else screen
    root = view_root(app, screen)
    nodes: list[DOMNode] = [root, *root.query("*")]
    if root is not screen:
        nodes.append(screen)
    nodes.append(app)
    seen: set[tuple[int, str]] = set()
    for node in nodes:
        for binding in own_bindings(node):
            if (id(node), binding.key) not in seen and binding.description:
                seen.add((id(node), binding.key))
                yield node, binding


class KeyBar(Widget):
    """The keys that act now, packed into lines at word boundaries: at 80 columns no key is cut off mid-word."""

    DEFAULT_CSS = """
    KeyBar { height: auto; max-height: 3; background: $panel; color: $text; padding: 0 1; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pairs: list[tuple[str, str, bool]] = []  # (key, description, enabled)

    def on_mount(self) -> None:
        """Follow the focus (what acts changes with it)."""
        self.screen.bindings_updated_signal.subscribe(self, self._changed)
        self._changed()

    def on_unmount(self) -> None:
        """Stop following."""
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _changed(self, *_: Any) -> None:
        pairs = [
            (self.app.get_key_display(active.binding), active.binding.description, active.enabled)
            for active in self.screen.active_bindings.values()
            if active.binding.show and active.binding.description
        ]
        if pairs != self._pairs:  # a repaint costs the link bytes: only when the keys change
            self._pairs = pairs
            self.refresh(layout=True)

    def render(self) -> Text:
        """The pairs, as many to a line as fit; a pair never breaks."""
        width = max(10, self.content_size.width or self.app.size.width - 2)
        text, used = Text(), 0
        for key, description, enabled in self._pairs:
            size = cell_len(key) + 1 + cell_len(description)
            if used and used + 2 + size > width:
                text.append("\n")
                used = 0
            elif used:
                text.append("  ")
                used += 2
            text.append(key, style="bold")
            text.append(f" {description}", style="" if enabled else "dim")
            used += size
        return text


class KeysHelp(ModalScreen[None]):
    """Every key of the view under it, grouped by what it acts on; `?` or Esc closes it."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Close"),
        Binding("question_mark", "dismiss(None)", "Close"),
    ]

    def __init__(self, entries: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.entries = entries  # (group, key, description)

    def compose(self) -> ComposeResult:
        text = Text()
        group = None
        for where, key, description in self.entries:
            if where != group:
                group = where
                text.append(f"{'' if not text else chr(10)}{where}\n", style="bold underline")
            text.append(f"  {key:<10}", style="bold")
            text.append(f"{description}\n")
        with Vertical(classes="dialog help"):
            yield Static(Text("Keys", style="bold"), classes="question")
            with VerticalScroll(classes="dialog-text"):
                yield Static(text, classes="detail")
            yield Static("? or Esc closes; Ctrl+P runs any of them by name", classes="hint")


def help_entries(app: Any) -> list[tuple[str, str, str]]:
    """The view's keys as (what they act on, key, description) for KeysHelp."""
    entries = []
    for node, binding in view_bindings(app):
        where = _group_name(node, app)
        description = binding.description
        if binding.tooltip:
            description = f"{description}: {binding.tooltip[0].lower()}{binding.tooltip[1:]}"
        entries.append((where, app.get_key_display(binding), description))
    return entries


def _group_name(node: DOMNode, app: Any) -> str:
    if node is app:
        return "Everywhere"
    title = getattr(node, "KEYS_TITLE", None) or getattr(node, "TITLE", None)
    if isinstance(title, str) and title and node is not app:
        return title
    return type(node).__name__.removesuffix("Table").removesuffix("Screen").removesuffix("View") or "This view"
