"""The service across power cuts on a Pi without a battery clock: a stale clock at start-up, and stamps it left.

The service runs in this process on a wall clock the test sets (its Timeline takes any wall clock; the
monotonic clock is the real one), with its own stand-in for systemd-timesyncd's flag file.
"""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp

from appliance.contract.client import AdminClient
from services.domain.clock import DAY, Timeline
from services.domain.fleet.retention import RetentionPolicy, prune_once
from services.root.service import StationmasterService
from services.store.journal import Journal
from tests.conftest import loose, make_settings, synchronised_flag
from tests.stationkit import check_in, event_stream, next_event

MAC = "24:0A:C4:00:00:01"


class Wall:
    """A wall clock set this far from the real one."""

    def __init__(self, offset_s: float = 0.0) -> None:
        self.offset_s = offset_s

    def __call__(self) -> float:
        return time.time() + self.offset_s


async def _seen(tmp_path: Path, wall: Wall) -> float:
    """Run the service once on `wall`, a station checking in; return when it was last seen."""
    settings = make_settings(tmp_path, clock_sync_flag=tmp_path / "timesync" / "synchronized")
    async with (
        StationmasterService(settings, clock=Timeline(wall)) as service,
        aiohttp.ClientSession(base_url=service.station_url) as http,
        AdminClient(settings.admin_socket) as admin,
    ):
        await check_in(http, MAC)
        station = loose(await admin.station(MAC))
    return float(station["last_seen_at"])


async def test_a_stale_clock_at_start_up_counts_on_from_the_last_stored_time(tmp_path: Path) -> None:
    synchronised_flag(tmp_path)
    last_seen = await _seen(tmp_path, Wall())
    # The power came back; NTP has not answered yet, and the clock is half a year behind.
    settings = make_settings(tmp_path, clock_sync_flag=synchronised_flag(tmp_path, present=False))
    wall = Wall(-182 * DAY)
    async with (
        StationmasterService(settings, clock=Timeline(wall)) as service,
        aiohttp.ClientSession(base_url=service.station_url) as http,
        AdminClient(settings.admin_socket) as admin,
        event_stream(admin) as events,
    ):
        behind = (await admin.events(kind="clock_behind"))[0]
        assert behind["at"] > last_seen, "nothing is stamped before what was stored"
        status = await admin.status()
        assert status["clock"]["synchronised"] is False
        assert status["now"] > last_seen
        await check_in(http, MAC)
        assert loose(await admin.station(MAC))["last_seen_at"] > last_seen

        wall.offset_s = 0.0  # NTP steps the clock to the right time
        synchronised_flag(tmp_path)
        stepped = await next_event(events, "clock_stepped")
        assert stepped["data"]["step_s"] > 181 * DAY
        # The service had counted on from the last stored time, a few seconds ago: it moves by those only.
        assert abs(stepped["data"]["moved_s"]) < 60
        await next_event(events, "clock_synchronised")
        assert (await admin.status())["clock"]["synchronised"] is True


async def test_what_a_run_stamped_before_the_clock_was_synchronised_is_held_from_deletion(tmp_path: Path) -> None:
    synchronised_flag(tmp_path, present=False)
    await _seen(tmp_path, Wall(-30 * DAY))  # a whole run on a clock a month behind, cut before NTP answered
    synchronised_flag(tmp_path)
    settings = make_settings(tmp_path)
    async with StationmasterService(settings) as service, AdminClient(settings.admin_socket) as admin:
        held = (await admin.events(kind="history_held"))[0]
        assert held["data"]["hold_from"] < held["data"]["hold_until"]
        assert service.registry is not None
        assert service.timekeeper is not None
        trust = service.timekeeper.trust()
        # Everything that run stamped looks a month old; with a week's retention it would all go.
        week = RetentionPolicy(checkin_days=7, event_days=7, command_days=7)
        gone = await prune_once(Journal(service.registry, service.bus, service.clock), week, trust)
        assert not any(gone.values()), gone
        assert await admin.events(kind="station_discovered"), "the month-old run's events are kept"
