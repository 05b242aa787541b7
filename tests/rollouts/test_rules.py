"""The rules of a rollout, case by case: wave plans, delivery gates, and the verdicts drawn from the evidence."""

from __future__ import annotations

import time

import pytest

from services.core.errors import InvalidInput
from services.core.rollout_model import RolloutSettings, RolloutStation, StationFacts
from services.domain.rollouts.evidence import Seen, Transfer, after_checkin, at_deadline, has_restarted, is_crash
from services.domain.rollouts.gates import hold_reason, in_window, parse_window
from services.domain.rollouts.plan import parse_settings, parse_waves, wave_order, wave_sizes

NOW = time.mktime((2026, 3, 14, 3, 30, 0, 0, 0, -1))  # 03:30 local time


def station(name: str, *tags: str, rssi: float | None = -60, heap: int | None = 30_000) -> StationFacts:
    return StationFacts(
        mac=f"02:00:00:00:00:{len(name):02X}",
        name=name,
        chip="esp32",
        project="sim-sensor",
        version="1.0.0",
        tags=tags,
        recent_rssi=rssi,
        free_heap=heap,
        bssid="0A:00:00:00:00:01",
        last_seen_at=NOW,
    )


def row(state: str, **fields: object) -> RolloutStation:
    return RolloutStation(rollout_id=1, mac="02:00:00:00:00:01", wave=0, position=0, state=state, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("total", "waves", "sizes"),
    [
        (50, (1, "25%", "rest"), [1, 13, 36]),
        (2, (1, "25%", "rest"), [1, 1]),
        (1, (1, "25%", "rest"), [1]),
        (50, (5,), [5, 45]),  # what the listed waves leave forms one last wave
        (10, ("100%",), [10]),
        (7, (3, 3, 3), [3, 3, 1]),
    ],
)
def test_wave_sizes(total: int, waves: tuple[int | str, ...], sizes: list[int]) -> None:
    assert wave_sizes(waves, total) == sizes


def test_wave_plans_are_read_from_lists_or_the_command_line() -> None:
    assert parse_waves(None) == (1, "25%", "rest")
    assert parse_waves("1, 10%, 50 %,rest") == (1, "10%", "50%", "rest")
    assert parse_waves([2, "rest"]) == (2, "rest")
    for bad, message in [
        (["rest", 1], "'rest' can only be the last wave"),
        ([0], "wave 1 must be a number of stations"),
        (["150%"], "not between 0 and 100"),
        ([True], "wave 1 must be"),
        ([], "non-empty list"),
        (list(range(1, 12)), "at most 10 waves"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            parse_waves(bad)


def test_canaries_go_first_critical_stations_last_and_otherwise_the_best_link_leads() -> None:
    stations = [
        station("pump", "critical", "canary"),
        station("shed", rssi=-70),
        station("gate", "canary", rssi=-80),
        station("barn", rssi=-50),
        station("well", rssi=None),
    ]
    assert [s.name for s in wave_order(stations)] == ["gate", "barn", "shed", "well", "pump"]


def test_settings_are_checked_and_the_rest_come_from_the_site() -> None:
    site = RolloutSettings(min_rssi=-70)
    settings = parse_settings({"soak_s": 30, "maintenance_window": "2:00-4:00"}, site)
    assert (settings.soak_s, settings.min_rssi, settings.maintenance_window) == (30.0, -70, "02:00-04:00")
    cases: list[tuple[dict[str, object], str]] = [
        ({"min_rssi": 5}, "min_rssi must be from -127 to 0"),
        ({"timeout_s": True}, "timeout_s must be a number"),
        ({"downloads_per_ap": 1.5}, "downloads_per_ap must be a whole number"),
        ({"max_failures_percent": 101}, "from 0 to 100"),
        ({"maintenance_window": "02:00"}, "'HH:MM-HH:MM'"),
        ({"maintenance_window": "02:00-02:00"}, "must not start and end at the same minute"),
    ]
    for body, message in cases:
        with pytest.raises(InvalidInput, match=message):
            parse_settings(body, site)


def test_maintenance_windows_are_local_time_and_may_wrap_past_midnight() -> None:
    assert in_window("03:00-04:00", NOW)
    assert not in_window("04:00-05:00", NOW)
    assert in_window("22:00-04:00", NOW)
    assert not in_window("22:00-03:00", NOW)
    assert not in_window(None, NOW)
    assert parse_window(" 9:05 - 17:30 ") == "09:05-17:30"


def test_delivery_gates_say_why_a_station_is_held() -> None:
    settings = RolloutSettings(min_rssi=-75, min_free_heap=16_384, maintenance_window="02:00-03:00")
    assert hold_reason(station("ok"), settings, approved=False, now=NOW) is None
    assert hold_reason(station("unknown", rssi=None, heap=None), settings, approved=False, now=NOW) is None
    weak = hold_reason(station("weak", rssi=-81.4), settings, approved=False, now=NOW)
    assert weak == "weak signal: -81 dBm lately, below the -75 dBm an update needs"
    low = hold_reason(station("low", heap=9_000), settings, approved=False, now=NOW)
    assert low == "low memory: 9,000 bytes of free heap, below the 16,384 needed"
    critical = station("pump", "critical")
    assert hold_reason(critical, settings, approved=False, now=NOW) == (
        "critical: waits for the admin's approval or the maintenance window 02:00-03:00"
    )
    assert hold_reason(critical, settings, approved=True, now=NOW) is None
    in_the_window = RolloutSettings(maintenance_window="03:00-04:00")
    assert hold_reason(critical, in_the_window, approved=False, now=NOW) is None


@pytest.mark.parametrize(
    ("before", "uptime", "restarted"),
    [
        ((100, NOW - 10), 5, True),  # uptime went back
        ((100, NOW - 10), 110, False),  # it ran on
        ((100, NOW - 600), 400, True),  # grew, but by less than the time that passed
        ((0, NOW - 0.5), 0, False),  # too quick for the uptime to tell: nothing else does
        ((100, NOW - 10), 111, False),
    ],
)
def test_a_restart_is_an_uptime_that_went_down(before: tuple[int, float], uptime: int, restarted: bool) -> None:
    before_uptime, seen_at = before
    assert has_restarted(before_uptime=before_uptime, before_seen_at=seen_at, uptime=uptime, now=NOW) is restarted


def test_crash_causes_from_both_chip_families() -> None:
    assert all(is_crash(c) for c in ("watchdog", "Hardware Watchdog", "task_wdt", "panic", "Exception", "brownout"))
    assert not any(is_crash(c) for c in ("ota", "power_on", "Software/System restart", "deep_sleep", None))


def test_a_check_in_moves_a_station_along() -> None:
    downloaded = row("downloaded", downloaded_at=NOW - 2)
    back = Seen(NOW, "1.1.0", restarted=True, cause="ota")
    step = after_checkin(downloaded, back, "1.1.0", soak_s=60)
    assert step is not None
    assert (step.state, step.changes["soak_until"]) == ("updating", NOW + 60)
    crashed = after_checkin(downloaded, Seen(NOW, "1.1.0", restarted=True, cause="watchdog"), "1.1.0", soak_s=60)
    assert crashed is not None
    assert (crashed.state, crashed.outcome) == ("failed", "boot_loop")
    old = after_checkin(downloaded, Seen(NOW, "1.0.0", restarted=True, cause="ota"), "1.1.0", soak_s=60)
    assert old is not None
    assert (old.state, old.outcome, old.wrong_version) == ("failed", "old_version", True)
    assert after_checkin(downloaded, Seen(NOW, "1.0.0", restarted=False, cause="ota"), "1.1.0", 60) is None

    soaking = row("updating", came_back_at=NOW - 30, soak_until=NOW + 30)
    assert after_checkin(soaking, Seen(NOW, "1.1.0", restarted=False, cause="ota"), "1.1.0", 60) is None
    blackout = after_checkin(soaking, Seen(NOW, "1.1.0", restarted=True, cause="power_on"), "1.1.0", 60)
    assert blackout is not None
    assert (blackout.state, blackout.changes["soak_until"]) == ("updating", NOW + 60), "the soak starts again"
    later = row("updating", came_back_at=NOW - 60, soak_until=NOW)
    done = after_checkin(later, Seen(NOW, "1.1.0", restarted=False, cause="ota"), "1.1.0", 60)
    assert done is not None
    assert done.state == "updated"
    rolling_back = row("initiated", direction="back", previous_version="1.0.0")
    home = after_checkin(rolling_back, Seen(NOW, "1.0.0", restarted=True, cause="ota"), "1.0.0", 60)
    assert home is not None
    assert home.state == "rolled_back"


def test_a_station_whose_time_ran_out_is_judged_by_what_the_appliance_saw() -> None:
    offered = NOW - 100

    def verdict(state: str, transfers: list[Transfer], seen: float | None, **fields: object) -> tuple[str, str, str]:
        step = at_deadline(
            row(state, initiated_at=offered, **fields),
            transfers=transfers,
            size=1000,
            last_seen_at=seen,
            version="1.0.0",
            target="1.1.0",
            now=NOW,
        )
        assert step.outcome is not None
        assert step.reason is not None
        return step.state, step.outcome, step.reason

    alive, silent = NOW - 1, offered - 5
    assert verdict("initiated", [], alive)[:2] == ("failed", "never_asked")
    state, outcome, reason = verdict("initiated", [], silent)
    assert (state, outcome) == ("timed_out", "never_asked")
    assert reason.startswith("never asked for the image; not seen since")
    state, outcome, reason = verdict("initiated", [], alive, first_poll_at=offered + 1, last_answer="answered 304: x")
    assert (state, outcome) == ("failed", "got_304")
    assert "answered 304: x" in reason
    cut = [Transfer(started_at=offered + 1, range_start=0, bytes_sent=370, finished_at=offered + 2)]
    state, outcome, reason = verdict("downloading", cut, alive)
    assert (state, outcome, reason) == (
        "failed",
        "partial",
        "downloaded 37 % of the image, then stopped; still checks in on 1.0.0",
    )
    resumed = [*cut, Transfer(started_at=offered + 3, range_start=370, bytes_sent=630, finished_at=offered + 4)]
    assert verdict("downloaded", resumed, silent, downloaded_at=offered + 4)[:2] == ("timed_out", "downloaded")
    assert verdict("downloaded", resumed, alive, downloaded_at=offered + 4)[:2] == ("failed", "not_installed")
    gone = verdict("updating", resumed, offered + 50, came_back_at=offered + 40, soak_until=offered + 60)
    assert gone[:2] == ("timed_out", "silent")
