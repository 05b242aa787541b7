"""Check-ins that only say "still here", held in memory and written together: an SD card's wear is its life.

A check-in that changes nothing but signal, uptime and heap is kept here and written with every other such
check-in in one transaction once a minute (with the history samples that fell due meanwhile). Whatever
reads a station reads it through `overlay`, so nobody sees the difference; a power cut loses at most that
minute of "last seen".
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

from services.core.models import CheckIn, Station
from services.store.registry.database import Database

# The fields a "still here" check-in may change; any other difference is written at once.
# The station's learned pace (seen_period_s) is one of them: it moves with the gaps between check-ins.
VOLATILE_FIELDS = ("rssi", "uptime_s", "free_heap", "seen_period_s")


@dataclass(slots=True)
class PendingCheckins:
    """One station's unwritten check-ins: the latest, and the history samples due since the last write."""

    report: CheckIn
    at: float
    samples: list[tuple[CheckIn, float]] = field(default_factory=list)


class CheckinBuffer:
    """Unwritten "still here" check-ins by MAC."""

    def __init__(self) -> None:
        self._pending: dict[str, PendingCheckins] = {}
        self._since: float | None = None  # when the oldest unwritten check-in arrived
        # When each station's last history sample was taken here, written or not: a check-in that read the
        # station's row just before a write must not take a second sample for the same interval.
        self._sampled: dict[str, float] = {}
        self._writing: list[list[PendingCheckins]] = []  # taken, being written: their moments are still ours

    def __len__(self) -> int:
        return len(self._pending)

    def put(self, report: CheckIn, at: float, *, sample: bool) -> None:
        """Hold a check-in; `sample` when it is due as a history row."""
        pending = self._pending.get(report.mac)
        if pending is None:
            pending = self._pending[report.mac] = PendingCheckins(report, at)
        pending.report, pending.at = report, at
        if sample:
            pending.samples.append((report, at))
            self._sampled[report.mac] = at
        if self._since is None:
            self._since = at

    def get(self, mac: str) -> PendingCheckins | None:
        """A station's unwritten check-ins, if any."""
        return self._pending.get(mac)

    def last_sample(self, mac: str) -> float | None:
        """When this buffer last took a history sample of the station (written or not), if ever."""
        return self._sampled.get(mac)

    def due(self, now: float, interval_s: float) -> bool:
        """True when the oldest unwritten check-in has waited `interval_s`."""
        return self._since is not None and now - self._since >= interval_s

    def take(self, mac: str) -> PendingCheckins | None:
        """Remove and return one station's unwritten check-ins (to write them before a change of its)."""
        return self._pending.pop(mac, None)

    def forget(self, mac: str) -> None:
        """Drop everything held of a station that was deleted."""
        self._pending.pop(mac, None)
        self._sampled.pop(mac, None)

    def take_all(self) -> list[PendingCheckins]:
        """Remove and return everything unwritten; `written(taken)` once its write has ended, however."""
        taken = list(self._pending.values())
        self._pending.clear()
        self._since = None
        self._writing.append(taken)
        return taken

    def written(self, taken: list[PendingCheckins]) -> None:
        """The write of what `take_all` returned has ended (committed, or given back)."""
        self._writing = [batch for batch in self._writing if batch is not taken]

    def shift(self, delta: float) -> None:
        """Move every moment held (the stamps of check-ins not yet written) by `delta` seconds."""
        for pending in [*self._pending.values(), *(p for batch in self._writing for p in batch)]:
            pending.at += delta
            pending.samples[:] = [(report, at + delta) for report, at in pending.samples]
        self._sampled = {mac: at + delta for mac, at in self._sampled.items()}
        if self._since is not None:
            self._since += delta

    def give_back(self, taken: list[PendingCheckins]) -> None:
        """Put back check-ins whose write failed, unless newer ones have arrived meanwhile."""
        for pending in taken:
            newer = self._pending.get(pending.report.mac)
            if newer is None:
                self._pending[pending.report.mac] = pending
            else:
                newer.samples[:0] = pending.samples
            self._since = min(self._since or pending.at, pending.at)

    def overlay(self, station: Station) -> Station:
        """The station as its latest check-in left it, written or not."""
        pending = self._pending.get(station.mac)
        if pending is None:
            return station
        changes: dict[str, object] = {"last_seen_at": pending.at}
        for name in VOLATILE_FIELDS:
            value = getattr(pending.report, name)
            if value is not None:
                changes[name] = value
        return dataclasses.replace(station, **changes)  # type: ignore[arg-type]


async def write_pending(conn: aiosqlite.Connection, taken: list[PendingCheckins]) -> int:
    """Write unwritten check-ins (station rows, then history samples) in the current transaction; return rows."""
    await conn.executemany(
        "UPDATE stations SET last_seen_at = ?, rssi = coalesce(?, rssi), uptime_s = coalesce(?, uptime_s),"
        " free_heap = coalesce(?, free_heap), seen_period_s = coalesce(?, seen_period_s) WHERE mac = ?",
        [
            (p.at, p.report.rssi, p.report.uptime_s, p.report.free_heap, p.report.seen_period_s, p.report.mac)
            for p in taken
        ],
    )
    samples = [(report, at) for p in taken for report, at in p.samples]
    # A station deleted since its check-in was held has nothing left to take its samples.
    await conn.executemany(
        "INSERT INTO checkins (mac, at, rssi, uptime_s, free_heap, restart_cause, version, ip, bssid)"
        " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 WHERE EXISTS (SELECT 1 FROM stations WHERE mac = ?1)",
        [(r.mac, at, r.rssi, r.uptime_s, r.free_heap, r.restart_cause, r.version, r.ip, r.bssid) for r, at in samples],
    )
    await conn.executemany(
        "UPDATE stations SET last_history_at = ? WHERE mac = ?",
        [(p.samples[-1][1], p.report.mac) for p in taken if p.samples],
    )
    return len(taken) + len(samples)


_VIEW = (
    "SELECT s.*,"
    " (SELECT count(*) FROM commands c WHERE c.mac = s.mac AND c.state IN ('queued', 'delivered'))"
    " AS commands_waiting,"
    " (SELECT group_concat(a.kind) FROM alerts a WHERE a.mac = s.mac AND a.cleared_at IS NULL) AS open_alerts,"
    # The config the station last said it applied: a check-in repeating it changes nothing.
    " (SELECT c.applied_etag FROM station_config c WHERE c.mac = s.mac) AS config_etag,"
    # Tags are lower-case words without commas: one column carries them all.
    " (SELECT group_concat(tag, ',') FROM (SELECT tag FROM station_tags t WHERE t.mac = s.mac ORDER BY tag))"
    " AS tag_list"
    " FROM stations s"
)
# SQLite takes at most 32,766 parameters a statement: a whole site fits one read.
VIEWS_AT_ONCE = 8000


async def checkin_view(db: Database, mac: str) -> dict[str, Any] | None:
    """What deciding about a check-in needs in one read: the station's row, its open alerts and commands, and
    the config it last reported applied."""
    row = await db.fetch_one(f"{_VIEW} WHERE s.mac = ?", (mac,))
    return None if row is None else dict(row)


async def checkin_views(db: Database, macs: list[str]) -> dict[str, dict[str, Any]]:
    """`checkin_view` of many stations in as few reads as the list allows, by MAC (unknown ones left out)."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(macs), VIEWS_AT_ONCE):
        part = macs[start : start + VIEWS_AT_ONCE]
        rows = await db.fetch_all(f"{_VIEW} WHERE s.mac IN ({', '.join('?' * len(part))})", part)
        found.update((str(row["mac"]), dict(row)) for row in rows)
    return found
