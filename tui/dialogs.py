"""Small modal dialogs: confirm, ask for a line of text, choose from a list."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList
from textual.widgets.option_list import Option


class Confirm(ModalScreen[bool]):
    """Ask before something that destroys; dismissed with True only on an explicit yes."""

    BINDINGS = [Binding("escape", "dismiss(False)", "Cancel"), Binding("y", "dismiss(True)", "Yes")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question)
            with Horizontal(classes="buttons"):
                yield Button("Yes (y)", id="yes", variant="error")
                yield Button("No (esc)", id="no")

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
            yield Label(self.question)
            yield Input(value=self.value, placeholder=self.placeholder, password=self.password, id="answer")

    def on_mount(self) -> None:
        """Type straight away, in any terminal."""
        self.query_one("#answer", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter answers (a password as typed: its spaces may be part of it)."""
        self.dismiss((event.value if self.password else event.value.strip()) or None)


class Choose(ModalScreen[str | None]):
    """Choose one option by its id; None when cancelled."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, question: str, options: list[tuple[str, str]]) -> None:
        super().__init__()
        self.question, self.options = question, options

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question)
            yield OptionList(*(Option(label, id=key) for key, label in self.options), id="choices")

    def on_mount(self) -> None:
        """Arrows and Enter straight away."""
        self.query_one("#choices", OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Selecting answers."""
        self.dismiss(event.option.id)
