"""What really happened to a station, from the appliance's own transfer log joined with its check-ins.

A station's claim ("updated to v1.4") is never taken for the truth: the appliance knows what it sent, and
each check-in says what the station runs, how long it has been up and why it last restarted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from services.core.rollout_model import Outcome, RolloutStation, StationState

# Restart causes that mean the firmware fell over, in the words the ESP cores and their firmware use.
_CRASH_WORDS = ("watchdog", "wdt", "panic", "exception", "exc", "brownout", "crash", "abort", "lockup")
# Uptime is whole seconds and two clocks drift: a restart is only called when the uptime falls this far short.
_UPTIME_SLACK_S = 2.0
_UPTIME_DRIFT = 0.02


@dataclass(frozen=True, slots=True)
class Seen:
    """One check-in of a station in a rollout, as the engine judges it."""

    now: float
    version: str | None
    restarted: bool
    cause: str | None


@dataclass(frozen=True, slots=True)
class Step:
    """A new state for a station's row, why, and the other columns that change with it."""

    state: StationState
    outcome: Outcome | None = None
    reason: str | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    wrong_version: bool = False  # it downloaded the image in full and came back on another version


@dataclass(frozen=True, slots=True)
class Transfer:
    """One download of the rollout's image to the station, from the `transfers` table."""

    started_at: float
    range_start: int
    bytes_sent: int
    finished_at: float | None


def is_crash(cause: str | None) -> bool:
    """True when a restart cause says the firmware crashed (watchdog, panic, exception, brownout)."""
    if not cause:
        return False
    word = cause.lower()
    return any(crash in word for crash in _CRASH_WORDS)


def has_restarted(*, before_uptime: int | None, before_seen_at: float | None, uptime: int | None, now: float) -> bool:
    """True when the station restarted since its previous check-in: its uptime went down, below the last one or
    short of it plus the time that passed (on the service's clock, which a step of the wall clock leaves alone).

    A new restart cause alone is not a restart: firmware reports the cause of its last boot at every check-in,
    and a station that came back from an update goes on saying "ota" long after it stopped restarting.
    """
    if uptime is None or before_uptime is None or before_seen_at is None:
        return False
    elapsed = max(now - before_seen_at, 0.0)
    return uptime < before_uptime or uptime + _UPTIME_SLACK_S + _UPTIME_DRIFT * elapsed < before_uptime + elapsed


def after_checkin(row: RolloutStation, seen: Seen, target: str | None, soak_s: float) -> Step | None:
    """How a check-in moves a station that was offered `target` (a version), or None if it does not."""
    on_target = target is not None and seen.version == target
    back = row.direction == "back"
    if row.state in ("initiated", "downloading", "downloaded"):
        if on_target and seen.restarted and is_crash(seen.cause) and not back:
            return _boot_loop(seen, target)
        if on_target and back:
            return Step("rolled_back", "rolled_back", f"back on {target}", {"finished_at": seen.now})
        if on_target:
            how = "" if row.downloaded_at is not None else " without downloading it from the appliance"
            return _came_back(seen, soak_s, f"came back on {target}{how}")
        if row.state == "downloaded" and seen.restarted:
            was = "the image" if target is None else target
            return Step(
                "failed",
                "old_version",
                f"downloaded {was} in full, then came back on {seen.version or 'an unknown version'}"
                f" (restart cause {seen.cause or 'unknown'}): the new image did not stay",
                {"finished_at": seen.now},
                wrong_version=True,
            )
        return None
    if row.state == "updating":
        if not on_target:
            return Step(
                "failed",
                "old_version",
                f"came back on {target}, then on {seen.version or 'an unknown version'}"
                f" (restart cause {seen.cause or 'unknown'})",
                {"finished_at": seen.now},
                wrong_version=True,
            )
        if seen.restarted and is_crash(seen.cause):
            return _boot_loop(seen, target, since=row.came_back_at)
        if seen.restarted:
            # A power cut is not the firmware's fault, but the soak must then start again.
            return _came_back(seen, soak_s, f"came back on {target}; restarted ({seen.cause}), soaking again")
        if row.soak_until is not None and seen.now >= row.soak_until:
            reason = f"runs {target} and stayed up through the soak"
            return Step("updated", "updated", reason, {"finished_at": seen.now})
    return None


def at_deadline(
    row: RolloutStation,
    *,
    transfers: list[Transfer],
    size: int,
    last_seen_at: float | None,
    version: str | None,
    target: str | None,
    now: float,
) -> Step:
    """The verdict on a station whose time ran out: failed if it is still alive, timed out if it went silent."""
    # Alive means heard from since the last thing it was waited for: the end of its soak, its download, the offer.
    since = (row.soak_until if row.state == "updating" else None) or row.downloaded_at or row.initiated_at or now
    alive = last_seen_at is not None and last_seen_at > since
    silent = "" if alive else f"; not seen since {_clock(last_seen_at)}"
    running = f"; still checks in on {version or 'an unknown version'}" if alive else ""
    reached = max(((t.range_start + t.bytes_sent) / size for t in transfers if size), default=row.reached or 0.0)
    outcome: Outcome
    if row.state == "updating":
        outcome, reason = "silent", f"came back on {target}, then stopped checking in during the soak{silent}"
    elif reached >= 1.0:
        if alive:
            outcome = "not_installed"
            running_now = version or "its old version"
            reason = f"downloaded the image in full, then kept running {running_now} without restarting"
        else:
            outcome, reason = "downloaded", f"downloaded the image in full, then never came back{silent}"
    elif transfers or reached > 0:
        outcome = "partial"
        reason = f"downloaded {int(reached * 100)} % of the image, then stopped{running}{silent}"
    elif row.first_poll_at is not None:
        outcome = "got_304"
        reason = f"asked for firmware but was answered 304 ({row.last_answer or 'nothing to send'}){running}{silent}"
    else:
        outcome = "never_asked"
        reason = f"never asked for the image{running}{silent}"
    return Step("failed" if alive else "timed_out", outcome, reason, {"finished_at": now})


def _came_back(seen: Seen, soak_s: float, reason: str) -> Step:
    if soak_s <= 0:
        return Step("updated", "updated", reason, {"came_back_at": seen.now, "finished_at": seen.now})
    return Step(
        "updating",
        None,
        f"{reason}; soaking until {_clock(seen.now + soak_s)}",
        {"came_back_at": seen.now, "soak_until": seen.now + soak_s},
    )


def _boot_loop(seen: Seen, target: str | None, since: float | None = None) -> Step:
    after = f" {seen.now - since:.0f} s later" if since is not None else ""
    return Step(
        "failed",
        "boot_loop",
        f"came back on {target}, then was restarted by {seen.cause}{after} (a boot loop)",
        {"finished_at": seen.now},
    )


def _clock(at: float | None) -> str:
    return "it was offered the image" if at is None else time.strftime("%H:%M:%S", time.localtime(at))
