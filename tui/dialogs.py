"""Small modal dialogs: confirm, ask for a line of text, choose from a list (typed to narrow it down).

Each says what it acts on in words that wrap whole at 80 columns, and `one_at_a_time` keeps a key pressed
again (a laggy link delivers repeats in a burst) from stacking a second dialog over the first.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

P = ParamSpec("P")
Node = TypeVar("Node", bound=DOMNode)
Action = Callable[Concatenate[Node, P], Coroutine[Any, Any, None]]


def one_at_a_time(group: str) -> Callable[[Action[Node, P]], Callable[Concatenate[Node, P], None]]:
    """Run an async action in a worker of `group`, unless an action of that group is still under way.

    The first press opens its dialog (or sends its request); presses that come while it is open or in
    flight do nothing, so four `b` presses on a laggy link ask once, and two different keys never stack
    two dialogs for the same item.
    """

    def decorate(action: Action[Node, P]) -> Callable[Concatenate[Node, P], None]:
        @functools.wraps(action)
        def run(node: Node, /, *args: P.args, **kwargs: P.kwargs) -> None:
            if any(w.group == group and not w.is_finished for w in node.app.workers):
                return
            node.run_worker(action(node, *args, **kwargs), group=group, exit_on_error=False)

        return run

    return decorate


def field(*parts: str | Input | Select[Any]) -> Horizontal:
    """A form's line: each label, then its field, borderless, sharing the rest of the line (CSS class row)."""
    children: list[Label | Input | Select[Any]] = []
    for part in parts:
        if isinstance(part, str):
            children.append(Label(part))
        else:
            part.compact = True  # a field a line high: a form of ten fits 80x24
            children.append(part)
    return Horizontal(*children, classes="row")


class Confirm(ModalScreen[bool]):
    """Ask before something that destroys or reaches far; dismissed with True only on an explicit yes.

    The question names what it acts on (a station's name, an image's project and version); the detail
    says what follows. Both wrap to the dialog's width and scroll when taller than the screen.

    Dialogs focus their first field with `set_focus` in `on_mount`, before the first paint: `focus()` waits
    for a later turn, and what the admin types as soon as the dialog shows would be lost.
    """

    BINDINGS = [Binding("escape", "dismiss(False)", "Cancel"), Binding("y", "dismiss(True)", "Yes")]

    def __init__(self, question: str, detail: str = "", *, yes: str = "Yes") -> None:
        super().__init__()
        self.question, self.detail, self.yes = question, detail, yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            with VerticalScroll(classes="dialog-text"):
                yield Static(Text(self.question, style="bold"), classes="question")
                if self.detail:
                    yield Static(Text(self.detail), classes="detail")
            with Horizontal(classes="buttons"):
                yield Button(f"{self.yes} (y)", id="yes", variant="error")
                yield Button("No (Esc)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """A button answers."""
        self.dismiss(event.button.id == "yes")


class Ask(ModalScreen[str | None]):
    """Ask for one line of text; None when cancelled."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, question: str, value: str = "", placeholder: str = "", *, password: bool = False) -> None:
        super().__init__()
        self.question, self.value, self.placeholder = question, value, placeholder
        self.password = password  # a secret: typed masked, never echoed

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.question, style="bold"), classes="question")
            yield Input(value=self.value, placeholder=self.placeholder, password=self.password, id="answer")
            yield Static("Enter to answer, Esc to cancel", classes="hint")

    def on_mount(self) -> None:
        """Type straight away, in any terminal."""
        self.set_focus(self.query_one("#answer", Input))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter answers (a password as typed: its spaces may be part of it)."""
        self.dismiss((event.value if self.password else event.value.strip()) or None)


class Choose(ModalScreen[str | None]):
    """Choose one option by its id; None when cancelled. Typing narrows a long list down."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(
        self,
        question: str,
        options: list[tuple[str, str]],
        *,
        typed_from: int = 8,
        free: Callable[[str], str | None] | None = None,
        placeholder: str = "type to narrow down: names, tags, versions…",
    ) -> None:
        super().__init__()
        self.question, self.options = question, options
        self.free = free  # what typed text that matches no option stands for (a new tag), if anything
        self.placeholder = placeholder
        self.typed = free is not None or len(options) >= typed_from  # a few options: arrows suffice

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog choose"):
            yield Static(Text(self.question, style="bold"), classes="question")
            if self.typed:
                yield Input(placeholder=self.placeholder, id="narrow")
            yield OptionList(*self._matching(""), id="choices")
            yield Static("Enter chooses, Esc cancels", classes="hint", id="choose-hint")

    def on_mount(self) -> None:
        """Type (or use the arrows) straight away."""
        self.set_focus(self.query_one("#narrow" if self.typed else "#choices"))

    @on(Input.Changed, "#narrow")
    def _narrow(self, event: Input.Changed) -> None:
        choices = self.query_one("#choices", OptionList)
        choices.clear_options()
        matching = self._matching(event.value)
        choices.add_options(matching)
        if matching:
            choices.highlighted = 0
        free = self.free(event.value.strip()) if self.free else None
        if matching:
            hint = "Enter chooses, Esc cancels"
        elif free is not None:
            hint = f"Enter: {free.replace(':', ' ', 1)}"
        else:
            hint = f'nothing matches "{event.value.strip()}"'
        self.query_one("#choose-hint", Static).update(hint)

    @on(Input.Submitted, "#narrow")
    def _typed_enter(self, event: Input.Submitted) -> None:
        choices = self.query_one("#choices", OptionList)
        if choices.highlighted is not None and choices.option_count:
            option = choices.get_option_at_index(choices.highlighted)
            self.dismiss(option.id)
        elif self.free is not None and (free := self.free(event.value.strip())) is not None:
            self.dismiss(free)

    def on_key(self, event: Any) -> None:
        """Up and down move in the list while the typing goes on."""
        if self.typed and event.key in ("up", "down") and isinstance(self.focused, Input):
            choices = self.query_one("#choices", OptionList)
            choices.action_cursor_up() if event.key == "up" else choices.action_cursor_down()
            event.prevent_default()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Selecting answers."""
        self.dismiss(event.option.id)

    def _matching(self, text: str) -> list[Option]:
        words = text.lower().split()
        return [Option(label, id=key) for key, label in self.options if all(w in label.lower() for w in words)]
