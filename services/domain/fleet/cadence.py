"""Each station's own pace, learned from the gaps between its signs of life (check-ins and /ota polls).

A station that speaks the JSON contract is told how often to check in; a stock sketch polls /ota at
whatever rate its author chose (every 10 s, every hour). Judging it late by the appliance's own interval
would call a healthy hourly poller offline all day, so its pace is learned instead.
"""

from __future__ import annotations

import statistics

# Gaps shorter than this are one visit, not two (esp_https_ota fetches an image in many requests).
MIN_GAP_S = 2.0
# The median of this many recent gaps: one outage (a long gap) or one burst does not move it.
_GAPS_KEPT = 5
# A learned pace is only changed (and so written) when the median moves by more than this fraction.
_HYSTERESIS = 0.2


class Cadence:
    """Learns, in memory, the period between a station's signs of life; the registry keeps what it learned."""

    def __init__(self) -> None:
        # A tuple a station: a deque, even of five, allocates a block of 64 slots (0.6 KiB a station).
        self._gaps: dict[str, tuple[float, ...]] = {}

    def seen(self, mac: str, gap_s: float | None, known_s: float | None) -> float | None:
        """Note a sign of life `gap_s` after the previous one; return the pace to keep (`known_s`: the stored one)."""
        if gap_s is None or gap_s < MIN_GAP_S:
            return known_s
        gaps = self._gaps.get(mac)
        if gaps is None:
            # After a restart: the stored pace stands in for the gaps seen before it.
            gaps = () if known_s is None else (known_s,) * (_GAPS_KEPT // 2)
        gaps = self._gaps[mac] = (*gaps, gap_s)[-_GAPS_KEPT:]
        median = statistics.median(gaps)
        if known_s is not None and abs(median - known_s) <= _HYSTERESIS * known_s:
            return known_s
        return float(round(median))

    def knows(self, mac: str) -> bool:
        """True if gaps of this station are remembered."""
        return mac in self._gaps

    def forget(self, mac: str) -> None:
        """Drop what was learned of a station (it was deleted)."""
        self._gaps.pop(mac, None)
