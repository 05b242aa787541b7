"""How the TUI words a rollout: its name, its counts and state, and what cancelling it does to its stations."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from appliance.contract.shapes import Rollout, RolloutPlan, RolloutSummary

WORDS = {"timed_out": "timed out", "rolled_back": "rolled back", "rolling_back": "rolling back"}
STATION_STYLE = {"updated": "green", "rolled_back": "cyan", "failed": "bold red", "timed_out": "red", "queued": "dim"}


def rollout_words(rollout: RolloutSummary | RolloutPlan) -> str:
    """A rollout as the admin knows it: "weather 1.5.0 for esp32"."""
    image = rollout.get("image") or {}
    what = rollout.get("name") or f"{image.get('project') or ''} {image.get('version') or ''}".strip()
    return f"{what} for {image.get('chip') or '?'}"


def cancel_words(rollout: Rollout) -> tuple[str, str]:
    """The cancel prompt: which rollout, and what becomes of its stations (what the service then does)."""
    stations = rollout.get("stations", [])
    version = (rollout.get("image") or {}).get("version") or "its image"
    running = sum(1 for s in stations if s["state"] in ("updated", "updating") and s.get("direction") != "back")
    underway = sum(1 for s in stations if s["state"] in ("initiated", "downloading", "downloaded"))
    question = f"Cancel rollout {rollout['id']} ({rollout_words(rollout)})?"
    if running:
        detail = (
            f"No station is offered {version} any more. The {running} station(s) running it (updated, or still"
            " soaking) keep it; the others keep what they run now."
        )
    else:
        detail = f"No station is offered {version} any more. None runs it yet: every station keeps what it runs now."
    if underway:
        detail += (
            f" {underway} station(s) offered it but not yet back on it fall back to their own assignments"
            " (a download under way may still finish)."
        )
    return question, detail


def counts(by_state: dict[str, Any]) -> str:
    """'12 updated · 1 failed' in the order a person reads a rollout."""
    order = ("updated", "updating", "downloaded", "downloading", "initiated", "queued", "failed", "timed_out")
    known = [s for s in order if by_state.get(s)] + sorted(s for s in by_state if s not in order and by_state[s])
    return " · ".join(f"{by_state[s]} {WORDS.get(s, s)}" for s in known) or "-"


def state_text(state: str) -> Text:
    """A rollout's state in words, coloured (halted stands out)."""
    style = {"halted": "bold red", "completed": "green", "paused": "yellow", "cancelled": "dim"}.get(state, "")
    return Text(WORDS.get(state, state), style=style)
