"""The form that starts a rollout: every setting the CLI has, on one 80x24 screen, and what it will do before it does.

Enter moves to the next field; the last one (or Review) asks the service for the plan, which the form shows
("12 stations in 3 waves: 1, 3, 8") with the settings in force; only then does Start start it. A change to
any field asks for a new review.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from appliance.contract.client import AdminError
from appliance.contract.durations import parse_duration
from appliance.contract.shapes import Image, RolloutPlan
from tui.dialogs import field

Planner = Callable[[dict[str, Any]], Awaitable[RolloutPlan]]
# (field id, label, placeholder, default): two to a line, as the CLI names them.
_FIELDS = (
    ("target", "Stations", "all, tag:NAME, or MACs with commas", "all"),
    ("waves", "Waves", "stations, percentages, rest: 1,25%,rest", "1,25%,rest"),
    ("soak", "Soak", "10m", "10m"),
    ("timeout", "Time-out", "30m", "30m"),
    ("max_failures", "Max fail %", "site default", ""),
    ("min_rssi", "Min dBm", "site default", ""),
    ("min_heap", "Min heap B", "site default", ""),
    ("per_ap", "Per AP", "site default", ""),
    ("window", "Window", "HH:MM-HH:MM", ""),
    ("name", "Name", "project and version", ""),
)
_WIDE = ("target", "waves")  # a line of their own


class StartRollout(ModalScreen[dict[str, Any] | None]):
    """Ask what to roll out and how; dismissed with the request for the admin API once reviewed, or None."""

    DEFAULT_CSS = """
    StartRollout #plan { height: auto; margin-top: 1; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"), Binding("ctrl+r", "review", "Review")]

    def __init__(self, images: list[Image], planner: Planner) -> None:
        super().__init__()
        self.images = images
        self.planner = planner
        self.reviewed: dict[str, Any] | None = None  # the request the plan shown is for

    def compose(self) -> ComposeResult:
        options = [
            (f"{i['project'] or '-'} {i['version'] or '-'}  {i['chip']}  {i['sha256'][:12]}", i["sha256"])
            for i in self.images
        ]
        with Vertical(classes="dialog", id="start-rollout"):
            yield Label("New rollout: Enter goes to the next field, Ctrl+R reviews", classes="question")
            yield field("Image", Select(options, value=self.images[0]["sha256"], allow_blank=False, id="image"))
            fields = iter(_FIELDS)
            for key, label, placeholder, default in fields:
                parts: list[str | Input] = [label, Input(value=default, placeholder=placeholder, id=key)]
                if key not in _WIDE:
                    key, label, placeholder, default = next(fields)
                    parts += [f" {label}", Input(value=default, placeholder=placeholder, id=key)]
                yield field(*parts)
            yield Static("Review shows what it will do before anything starts.", id="plan", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Review", id="review", variant="primary", compact=True)
                yield Button("Start", id="start", variant="error", disabled=True, compact=True)
                yield Button("Cancel (Esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        """Start on the stations: the image is usually the newest."""
        self.set_focus(self.query_one("#target", Input))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter moves to the field after the one it was pressed in; on the last it reviews (it never starts)."""
        keys = [key for key, *_ in _FIELDS]
        if event.input.id == keys[-1]:
            self.review()
        elif event.input.id in keys:
            self.set_focus(self.query_one(f"#{keys[keys.index(event.input.id) + 1]}", Input))

    def action_review(self) -> None:
        """Ctrl+R: review from any field."""
        self.review()

    @on(Input.Changed)
    @on(Select.Changed)
    def _changed(self) -> None:
        if self.reviewed is not None:
            self.reviewed = None
            self.query_one("#start", Button).disabled = True
            self.query_one("#plan", Static).update("Changed: review again before starting.")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Review, start (once reviewed), or cancel."""
        if event.button.id == "review":
            self.review()
        elif event.button.id == "start" and self.reviewed is not None:
            self.dismiss(self.reviewed)
        elif event.button.id == "cancel":
            self.dismiss(None)

    @work(exclusive=True, group="rollout-review", exit_on_error=False)
    async def review(self) -> None:
        """Ask the service what this rollout would do, and show it."""
        plan = self.query_one("#plan", Static)
        try:
            request = self._request()
        except ValueError as exc:
            plan.update(f"✗ {exc}")
            return
        plan.update("asking the service…")
        try:
            answer = await self.planner(request)
        except AdminError as exc:
            plan.update(f"✗ {exc.message}")
            return
        plan.update(plan_words(answer))
        self.reviewed = request
        start = self.query_one("#start", Button)
        start.disabled = False
        self.set_focus(start)  # Enter now starts what was reviewed

    def _request(self) -> dict[str, Any]:
        value = {key: self.query_one(f"#{key}", Input).value.strip() for key, *_ in _FIELDS}
        if value["target"] in ("", "all"):
            target: dict[str, Any] = {"all": True}
        elif value["target"].startswith("tag:"):
            target = {"tag": value["target"][4:].strip()}
        else:
            target = {"stations": [mac.strip() for mac in value["target"].split(",") if mac.strip()]}
        waves = [part.strip() for part in value["waves"].split(",") if part.strip()]
        return {
            "image": str(self.query_one("#image", Select).value),
            "target": target,
            "waves": waves or None,
            "soak_s": parse_duration(value["soak"]) if value["soak"] else None,
            "timeout_s": parse_duration(value["timeout"]) if value["timeout"] else None,
            "max_failures_percent": _number(value["max_failures"], "max failures", float),
            "min_rssi": _number(value["min_rssi"], "minimum signal", int),
            "min_free_heap": _number(value["min_heap"], "minimum free heap", int),
            "downloads_per_ap": _number(value["per_ap"], "downloads per access point", int),
            "maintenance_window": value["window"] or None,
            "name": value["name"] or None,
        }


def plan_words(plan: RolloutPlan) -> str:
    """The plan as a person reads it: how many stations, in which waves, who goes first, and the rules."""
    sizes = [wave["size"] for wave in plan["waves"]]
    first = ", ".join(plan["waves"][0]["stations"][:3]) if plan["waves"] else "-"
    settings = plan["settings"]
    image = plan["image"]
    lines = [
        f"{plan['name']}: {image.get('version')} to {plan['stations']} {image.get('chip')} station(s)"
        f" in {len(sizes)} wave(s): {', '.join(str(size) for size in sizes)}. First: {first}.",
        f"Each must stay up {_span(settings['soak_s'])} (back within {_span(settings['timeout_s'])}); a wave"
        f" fails past {settings['max_failures_percent']:g} % of its stations.",
        f"Offered only at {settings['min_rssi']} dBm or better, {settings['min_free_heap']:,} bytes free,"
        f" {settings['downloads_per_ap']} download(s) at once per access point.",
    ]
    if plan.get("critical"):
        window = settings.get("maintenance_window")
        lines.append(
            f"{plan['critical']} critical station(s) go last and wait for your approval (a)"
            + (f" or the window {window}." if window else ".")
        )
    return "\n".join(lines)


def _number(text: str, what: str, kind: type[int] | type[float]) -> Any:
    if not text:
        return None
    try:
        return kind(text.rstrip("%").strip())
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not a number") from None


def _span(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"
