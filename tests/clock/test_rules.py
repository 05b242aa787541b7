"""The clock's rules on their own: where the timeline goes, what retention may delete, which columns move."""

from __future__ import annotations

import math
from pathlib import Path

import aiosqlite
import pytest

from services.domain.clock import DAY, ClockTrust, Timeline, aim
from services.store.registry.database import migrate
from services.store.registry.stamps import DEADLINES, PAST, redate

NOW = 1_800_000_000.0


class Clocks:
    """A wall clock and a monotonic clock the test turns by hand."""

    def __init__(self) -> None:
        self.wall = NOW
        self.monotonic = 1000.0


def test_the_timeline_runs_on_the_monotonic_clock_and_ignores_a_step_of_the_wall_clock() -> None:
    clocks = Clocks()
    timeline = Timeline(lambda: clocks.wall, lambda: clocks.monotonic)
    assert timeline() == NOW
    clocks.monotonic += 10
    clocks.wall += 182 * DAY + 10  # NTP steps the clock half a year forward meanwhile
    assert timeline() == NOW + 10, "nothing moves until the timekeeper moves it"
    assert timeline.uptime_s() == 10
    assert timeline.wall_offset() - timeline.offset == 182 * DAY
    timeline.offset += 182 * DAY
    assert (timeline(), timeline.started_at) == (clocks.wall, NOW + 182 * DAY), "the start moves with the time"


@pytest.mark.parametrize(
    ("wall", "synchronised", "expected"),
    [
        (+100.0, True, +100.0),  # a step forward is taken
        (-100.0, True, -100.0),  # and one back, once NTP says it is right
        (-100.0, None, -100.0),  # nothing tells: the wall clock is believed
        (+100.0, False, +100.0),  # a stale clock moving forward is taken
        (-100.0, False, 0.0),  # but it never takes the timeline back before what was stamped
    ],
)
def test_the_timeline_aims_at_the_wall_clock_but_a_stale_one_never_takes_it_back(
    wall: float, synchronised: bool | None, expected: float
) -> None:
    assert aim(wall, 0.0, synchronised) == expected


def test_retention_keeps_everything_while_the_clock_is_not_synchronised() -> None:
    assert ClockTrust(synchronised=False).kept_days(NOW, 3) == math.inf
    assert ClockTrust(synchronised=True).kept_days(NOW, 3) == 3
    assert ClockTrust(synchronised=None).kept_days(NOW, 3) == 3, "where nothing tells, retention goes on"


def test_what_was_stamped_while_the_clock_was_wrong_stays_until_it_is_surely_old() -> None:
    # Stamps from 10 days ago to 1 day ago may be misdated (a run that never saw the clock synchronised).
    held = ClockTrust(synchronised=True, hold_from=NOW - 10 * DAY, hold_until=NOW - 1 * DAY)
    assert held.kept_days(NOW, 3) == pytest.approx(10), "nothing from the held span goes yet"
    assert held.kept_days(NOW, 30) == 30, "older than the held span: the usual rule"
    assert held.kept_days(NOW + 3 * DAY, 3) == 3, "once its end is 3 days old, so is all of it"


async def test_every_moment_the_registry_stores_is_moved_with_the_clock(tmp_path: Path) -> None:
    """Each REAL column named like a moment is listed for re-dating: a new column cannot be forgotten."""
    async with aiosqlite.connect(tmp_path / "r.sqlite3", isolation_level=None) as conn:
        await migrate(conn)
        moments = set()
        async with conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'") as cursor:
            # The clock's own row is moved by `redate` by name.
            tables = [row[0] for row in await cursor.fetchall() if row[0] != "clock"]
        for table in tables:
            async with conn.execute(f"PRAGMA table_info({table})") as cursor:
                for row in await cursor.fetchall():
                    name, kind = row[1], row[2]
                    if kind == "REAL" and (name.endswith(("_at", "_until")) or name == "at"):
                        moments.add((table, name))
        listed = set(PAST) | set(DEADLINES)
        assert moments - listed == set(), "moments a step of the clock would leave behind"
        assert listed - moments == set(), "listed columns that do not exist"


async def test_a_move_takes_what_was_stamped_since_and_leaves_what_came_before(tmp_path: Path) -> None:
    async with aiosqlite.connect(tmp_path / "r.sqlite3", isolation_level=None) as conn:
        await migrate(conn)
        await conn.execute("INSERT INTO events (at, kind, message) VALUES (?, 'before', ''), (?, 'since', '')", (1, 5))
        await conn.execute(
            "INSERT INTO stations (mac, name, status, created_at, last_seen_at) VALUES ('m', 'n', 'accepted', 1, 6)"
        )
        await conn.execute(
            "INSERT INTO commands (mac, kind, state, created_at, expires_at) VALUES ('m', 'reboot', 'queued', 2, 9)"
        )
        moved = await redate(conn, since=5, delta=100)
        async with conn.execute("SELECT kind, at FROM events ORDER BY id") as cursor:
            assert [tuple(r) for r in await cursor.fetchall()] == [("before", 1), ("since", 105)]
        async with conn.execute("SELECT created_at, last_seen_at FROM stations") as cursor:
            assert [tuple(r) for r in await cursor.fetchall()] == [(1, 106)]
        async with conn.execute("SELECT created_at, expires_at FROM commands") as cursor:
            waits = [tuple(r) for r in await cursor.fetchall()]
        assert waits == [(2, 109)], "a wait under way keeps what is left of it"
        assert moved == 3
