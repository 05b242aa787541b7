"""A station's state as the service tells it: online, late or offline from its check-ins, else its status."""

from __future__ import annotations

from dataclasses import dataclass, replace

# Late once a check-in is half an interval overdue; offline after `offline_after_missed` intervals.
LATE_AFTER_INTERVALS = 1.5


@dataclass(frozen=True, slots=True)
class Presence:
    """When a station counts as late and as offline."""

    poll_interval_s: float = 60
    offline_after_missed: int = 3

    @property
    def late_after_s(self) -> float:
        """Seconds of silence after which a station is late."""
        return self.poll_interval_s * LATE_AFTER_INTERVALS

    @property
    def offline_after_s(self) -> float:
        """Seconds of silence after which a station is offline."""
        return self.poll_interval_s * max(self.offline_after_missed, LATE_AFTER_INTERVALS)

    def paced(self, seen_period_s: float | None) -> Presence:
        """The rule for a station whose own pace is `seen_period_s`: never stricter than the appliance's interval."""
        if seen_period_s is None or seen_period_s <= self.poll_interval_s:
            return self
        return replace(self, poll_interval_s=seen_period_s)


def station_state(
    status: str, last_seen_at: float | None, presence: Presence, now: float, seen_period_s: float | None = None
) -> str:
    """online / late / offline for an accepted station (awaiting before it is first seen), else its status.

    `seen_period_s`: the station's own pace (a stock sketch polling /ota every 10 min is on time at 9 min).
    """
    if status != "accepted":
        return status
    if last_seen_at is None:
        return "awaiting"
    presence = presence.paced(seen_period_s)
    silence = now - last_seen_at
    if silence <= presence.late_after_s:
        return "online"
    return "late" if silence <= presence.offline_after_s else "offline"
