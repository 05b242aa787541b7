"""What a check-in tells about a station's health: restarts and their causes, and the alerts they raise or clear."""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from typing import Any

from services.core.models import CheckIn, Restart
from services.domain.health.alerts import clear_alert, raise_alert
from services.domain.health.resets import normalise_restart
from services.domain.health.signal import SignalAction, SignalPolicy, SignalWatch
from services.domain.health.states import Presence
from services.store.journal import EventLog
from services.store.registry.health import insert_restart, open_alerts_for, unplanned_restarts_since


@dataclass(frozen=True, slots=True)
class HealthPolicy:
    """Thresholds for the alerts a check-in can raise."""

    signal: SignalPolicy = field(default_factory=SignalPolicy)
    presence: Presence = field(default_factory=Presence)
    reboot_loop_restarts: int = 3
    reboot_loop_window_s: float = 900

    @property
    def stable_after_s(self) -> float:
        """Uptime after which a reboot loop counts as over."""
        return 2 * self.reboot_loop_window_s


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a check-in will change in the alerts, decided before it is written."""

    signal: SignalAction | None = None
    clear_offline: bool = False
    clear_reboot_loop: bool = False

    @property
    def quiet(self) -> bool:
        """True when the check-in raises and clears nothing."""
        return self.signal is None and not self.clear_offline and not self.clear_reboot_loop


class CheckinHealth:
    """Turns check-ins into restart records and alerts."""

    def __init__(self, policy: HealthPolicy) -> None:
        self.policy = policy
        self._signal = SignalWatch(policy.signal)

    def forget(self, mac: str) -> None:
        """Drop what is counted of a station that was deleted."""
        self._signal.forget(mac)

    def assess(self, report: CheckIn, open_alerts: Set[str]) -> Verdict:
        """Count this check-in's signal and say which alerts it raises or clears (call once per check-in)."""
        signal = self._signal.observe(report.mac, report.rssi, "weak_signal" in open_alerts)
        stable = report.uptime_s is not None and report.uptime_s >= self.policy.stable_after_s
        return Verdict(
            signal=signal,
            clear_offline="offline" in open_alerts,
            clear_reboot_loop="reboot_loop" in open_alerts and stable,
        )

    async def record(
        self, log: EventLog, report: CheckIn, before: Mapping[str, Any], verdict: Verdict | None
    ) -> Restart | None:
        """Inside the check-in's write: store a restart if there was one, then raise and clear alerts."""
        name, mac = before["name"], report.mac
        verdict = verdict or Verdict()
        restart = detect_restart(report, before, log.now)
        if restart is not None:
            restart = await insert_restart(log.conn, restart)
            if before["status"] == "accepted":
                await self._check_reboot_loop(log, name, restart)
        if verdict.signal == "raise":
            threshold = self.policy.signal.threshold_dbm
            await raise_alert(
                log, "weak_signal", mac, f"{name}: signal {report.rssi} dBm, below {threshold} dBm", rssi=report.rssi
            )
        elif verdict.signal == "clear":
            await clear_alert(log, "weak_signal", mac, f"{name}: signal back to {report.rssi} dBm")
        if verdict.clear_offline:
            await clear_alert(log, "offline", mac, f"{name} is back{_silence(before, log.now)}")
        if verdict.clear_reboot_loop and restart is None:
            minutes = (report.uptime_s or 0) // 60
            await clear_alert(log, "reboot_loop", mac, f"{name} has stayed up {minutes} min")
        if report.version is not None and report.version != before.get("version"):
            wrong = (await open_alerts_for(log.conn, mac)).get("wrong_version")
            if wrong is not None and wrong.data.get("expected") == report.version:
                await clear_alert(log, "wrong_version", mac, f"{name} now runs {report.version}")
        return restart

    async def _check_reboot_loop(self, log: EventLog, name: str, restart: Restart) -> None:
        policy = self.policy
        if restart.kind == "planned":
            return
        since = log.now - policy.reboot_loop_window_s
        count = await unplanned_restarts_since(log.conn, restart.mac, since)
        if count >= policy.reboot_loop_restarts:
            minutes = round(policy.reboot_loop_window_s / 60)
            await raise_alert(
                log,
                "reboot_loop",
                restart.mac,
                f"{name} restarted {count} times in {minutes} min, last by {restart.cause}",
                restarts=count,
                cause=restart.cause,
            )


def detect_restart(report: CheckIn, before: Mapping[str, Any], now: float) -> Restart | None:
    """A restart when the uptime went back since the last check-in, dated by the uptime reported now."""
    uptime, previous = report.uptime_s, before.get("uptime_s")
    if uptime is None or previous is None or uptime >= previous:
        return None
    cause = normalise_restart(report.chip or before.get("chip"), report.reset_reason, report.restart_cause)
    booted = now - uptime
    last_seen = before.get("last_seen_at")
    if last_seen is not None:
        booted = max(booted, float(last_seen))  # a clock that disagrees must not date it before the last sign of life
    return Restart(
        id=0,
        mac=report.mac,
        at=booted,
        cause=cause.word,
        kind=cause.kind,
        reset_reason=report.reset_reason,
        firmware_cause=report.restart_cause,
        uptime_before=previous,
        version=report.version or before.get("version"),
    )


def _silence(before: Mapping[str, Any], now: float) -> str:
    last_seen = before.get("last_seen_at")
    if last_seen is None:
        return ""
    minutes = (now - float(last_seen)) / 60
    return f" after {minutes:.0f} min of silence" if minutes >= 1 else ""
