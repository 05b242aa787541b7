"""The form that starts a rollout: the image, its stations, the waves, the soak and the time-out."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from appliance.contract.durations import parse_duration


class StartRollout(ModalScreen[dict[str, Any] | None]):
    """Ask what to roll out and how; dismissed with the request for the admin API, or None."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, images: list[dict[str, Any]]) -> None:
        super().__init__()
        self.images = images

    def compose(self) -> ComposeResult:
        options = [
            (f"{i['project'] or '-'} {i['version'] or '-'}  {i['chip']}  {i['sha256'][:12]}", i["sha256"])
            for i in self.images
        ]
        with Vertical(classes="dialog tall", id="start-rollout"):
            yield Label("Roll out which image? (the newest first)")
            yield Select(options, value=self.images[0]["sha256"], allow_blank=False, id="image")
            yield Label("To which stations: all, tag:NAME, or MACs separated by commas")
            yield Input(value="all", id="target")
            yield Label("Waves: numbers of stations, percentages, and rest")
            yield Input(value="1,25%,rest", id="waves")
            yield Label("Soak (each station must stay up this long), then its time-out to come back")
            with Horizontal(classes="pair"):
                yield Input(value="10m", id="soak")
                yield Input(value="30m", id="timeout")
            yield Static(id="form-error")
            with Horizontal(classes="buttons"):
                yield Button("Start (Enter)", id="start", variant="primary")
                yield Button("Cancel (Esc)", id="cancel")

    def on_mount(self) -> None:
        """Start on the stations: the image is usually the newest."""
        self.query_one("#target", Input).focus()

    def on_input_submitted(self) -> None:
        """Enter in any field starts."""
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Start, or cancel."""
        if event.button.id == "start":
            self._submit()
        else:
            self.dismiss(None)

    def _submit(self) -> None:
        try:
            request = self._request()
        except ValueError as exc:
            self.query_one("#form-error", Static).update(str(exc))
            return
        self.dismiss(request)

    def _request(self) -> dict[str, Any]:
        target_text = self.query_one("#target", Input).value.strip()
        if target_text in ("", "all"):
            target: dict[str, Any] = {"all": True}
        elif target_text.startswith("tag:"):
            target = {"tag": target_text[4:].strip()}
        else:
            target = {"stations": [mac.strip() for mac in target_text.split(",") if mac.strip()]}
        waves = [part.strip() for part in self.query_one("#waves", Input).value.split(",") if part.strip()]
        return {
            "image": str(self.query_one("#image", Select).value),
            "target": target,
            "waves": waves or None,
            "soak_s": parse_duration(self.query_one("#soak", Input).value),
            "timeout_s": parse_duration(self.query_one("#timeout", Input).value),
        }
