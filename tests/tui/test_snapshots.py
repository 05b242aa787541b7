"""SVG snapshots pin the TUI's layouts at 80x24 and 160x48 (update with --snapshot-update after a deliberate change)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from services.root.service import REGISTRY_FILE
from tests.conftest import ServeProcess
from tui.app import StationmasterApp
from tui.detail import StationScreen
from tui.dialogs import Confirm
from tui.events import EventScreen
from tui.keys import KeysHelp
from tui.onboarding.bundle import BundleWizard
from tui.rollout_form import StartRollout

SNAPSHOT_PORT = 18931  # fixed: the status bar shows it
SIZES = [(80, 24), (160, 48)]
# (kind, mac, minutes since raised, message): whole minutes, like every age drawn here
ALERTS = [
    ("weak_signal", "24:0A:C4:00:00:02", 20, "STA2: signal -83 dBm, below -80 dBm"),
    ("offline", "5C:CF:7F:00:00:03", 90, "pump-house is offline: no check-in for 90 min (9 missed)"),
]
# (mac, name, status, chip, version, rssi, seconds since last seen, restart cause, ip)
# Ages are whole minutes and more, with a 10-minute poll interval: what is drawn cannot change between
# seeding and the snapshot (seconds would).
POLL_INTERVAL_S = 600
FLEET = [
    ("24:0A:C4:00:00:01", "STA1", "accepted", "esp32", "1.4.0", -58, 300, "power_on", "192.168.1.21"),
    ("24:0A:C4:00:00:02", "STA2", "accepted", "esp32", "1.4.0", -83, 1200, "watchdog", "192.168.1.22"),
    ("5C:CF:7F:00:00:03", "pump-house", "accepted", "esp8266", "1.3.2", -71, 7200, "ota", "192.168.1.23"),
    ("34:85:18:00:00:04", "esp-000004", "pending", "esp32c3", "0.9.0", -64, 240, "power_on", "192.168.1.24"),
    ("34:85:18:00:00:05", "old-gate", "rejected", "esp32c3", "0.1.0", -90, 86400 * 3, "brownout", "192.168.1.25"),
]


IMAGES = [
    ("9f" * 32, "esp32", "weather", "1.4.0", 1_048_576, "weather-1.4.0.bin"),
    ("3c" * 32, "esp8266", "pump", "1.3.2", 412_160, "pump-1.3.2.bin"),
]
# Events at fixed moments (drawn in UTC): the log shows their wall-clock time. None is STA2's, whose detail
# screen shows its events' ages, which a fixed moment would change from run to run.
_DAY = 1_796_083_200.0  # 2026-12-01 00:00 UTC
EVENTS = [
    (_DAY + 8 * 3600, "station_discovered", "34:85:18:00:00:04", "new station 34:85:18:00:00:04 is waiting"),
    (_DAY + 8 * 3600 + 60, "station_renamed", "24:0A:C4:00:00:01", "esp-000001 renamed to STA1"),
    (_DAY + 9 * 3600, "version_changed", "5C:CF:7F:00:00:03", "pump-house now runs 1.3.2 (was 1.3.1)"),
    (_DAY + 9 * 3600 + 5, "station_restarted", "5C:CF:7F:00:00:03", "pump-house restarted (ota)"),
]
# A halted rollout: its canary (STA1) boot-looped, STA2 waits for a better signal. Halted, with nothing in
# flight, it is left as seeded: no clock of its moves it.
ROLLOUT = (
    "INSERT INTO rollouts (id, name, sha256, target, waves, wave_count, state, soak_s, timeout_s,"
    " max_failures_percent, min_rssi, min_free_heap, downloads_per_ap, created_at, reason)"
    " VALUES (1, 'weather 1.4.0', ?, '{\"all\": true}', '[1, \"rest\"]', 2, 'halted', 600, 1800, 10, -75, 16384, 2,"
    " ?, 'wave 1 failed: 1 of 1 stations (100 %) failed, more than the 10 % allowed')"
)
ROLLOUT_STATIONS = [
    ("24:0A:C4:00:00:01", 0, "failed", "boot_loop", None, "came back on 1.4.0, then was restarted by watchdog"),
    ("24:0A:C4:00:00:02", 1, "queued", None, "weak signal: -83 dBm lately, below the -75 dBm an update needs", None),
]
LAN = [
    ("esp-shed._arduino._tcp.local.", "_arduino._tcp.local.", "esp-shed.local.", "192.168.1.40", 3232, "esp32", None),
    ("gate._esphomelib._tcp.local.", "_esphomelib._tcp.local.", "gate.local.", "192.168.1.41", 6053, "esp32c3", None),
    ("STA1._http._tcp.local.", "_http._tcp.local.", "sta1.local.", "192.168.1.21", 80, None, "24:0A:C4:00:00:01"),
]


@pytest.fixture
def seeded_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServeProcess]:
    """A service whose registry holds a fixed fleet, seen at fixed times before now."""
    monkeypatch.setenv("STATIONMASTER_POLL_INTERVAL_S", str(POLL_INTERVAL_S))
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    serve = ServeProcess(tmp_path)
    serve.port = SNAPSHOT_PORT
    serve.url = f"http://127.0.0.1:{SNAPSHOT_PORT}"
    serve.start()
    now = time.time()
    db = sqlite3.connect(serve.data_dir / REGISTRY_FILE, timeout=10)
    with db:
        for mac, name, status, chip, version, rssi, age, cause, ip in FLEET:
            db.execute(
                "INSERT INTO stations (mac, name, status, chip, project, version, rssi, uptime_s, free_heap,"
                " restart_cause, ip, bssid, created_at, last_seen_at) VALUES"
                " (?, ?, ?, ?, 'weather', ?, ?, 3600, 150000, ?, ?, '11:22:33:44:55:66', ?, ?)",
                (mac, name, status, chip, version, rssi, cause, ip, now - 86400 * 7, now - age),
            )
        for step, signal in enumerate((-60, -62, -65, -70, -78, -83, -81, -79, -83)):
            db.execute(
                "INSERT INTO checkins (mac, at, rssi, uptime_s, free_heap, restart_cause, version)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    FLEET[1][0],
                    now - 86400 + step * 600,
                    signal,
                    100 + step * 600,
                    150000 - step * 900,
                    "watchdog",
                    "1.4.0",
                ),
            )
        for hours, cause, code in ((30, "watchdog", 7), (26, "brownout", 9)):
            db.execute(
                "INSERT INTO restarts (mac, at, cause, kind, reset_reason, firmware_cause, uptime_before, version)"
                " VALUES (?, ?, ?, 'crash', ?, 'boot', 3600, '1.4.0')",
                (FLEET[1][0], now - hours * 3600, cause, code),
            )
        for kind, mac, minutes, message in ALERTS:
            db.execute(
                "INSERT INTO alerts (kind, mac, message, raised_at) VALUES (?, ?, ?, ?)",
                (kind, mac, message, now - minutes * 60),
            )
        for sha, chip, project, version, size, filename in IMAGES:
            db.execute(
                "INSERT INTO images (sha256, md5, size, chip, project, version, filename, imported_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (sha, "0" * 32, size, chip, project, version, filename, now - 86400),
            )
        for at, kind, mac, message in EVENTS:
            db.execute("INSERT INTO events (at, kind, mac, message) VALUES (?, ?, ?, ?)", (at, kind, mac, message))
        db.execute(ROLLOUT, (IMAGES[0][0], now - 3600))
        for position, (mac, wave, state, outcome, hold, reason) in enumerate(ROLLOUT_STATIONS):
            db.execute(
                "INSERT INTO rollout_stations (rollout_id, mac, wave, position, state, outcome, hold, reason,"
                " previous_version) VALUES (1, ?, ?, ?, ?, ?, ?, ?, '1.3.0')",
                (mac, wave, position, state, outcome, hold, reason),
            )
        for service in LAN:
            db.execute(
                "INSERT INTO lan_services (name, type, host, address, port, txt, board, mac, first_seen_at,"
                " last_seen_at) VALUES (?, ?, ?, ?, ?, '{}', ?, ?, ?, ?)",
                (*service, now - 7200, now - 60),
            )
    db.close()
    yield serve
    serve.stop()


def waiting_for(condition: Callable[[StationmasterApp], bool]) -> Callable[[Pilot[Any]], Any]:
    """A run_before that lets the app load until `condition` holds."""

    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, StationmasterApp)
        for _ in range(250):
            if condition(app):
                break
            await pilot.pause(0.02)
        await pilot.pause(0.1)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_stations_layout(snap_compare: Any, seeded_service: ServeProcess, size: tuple[int, int]) -> None:
    app = StationmasterApp(seeded_service.socket)
    assert snap_compare(app, terminal_size=size, run_before=waiting_for(lambda a: a.stations_table.row_count == 5))


@pytest.mark.parametrize("size", SIZES)
def test_station_detail_layout(snap_compare: Any, seeded_service: ServeProcess, size: tuple[int, int]) -> None:
    app = StationmasterApp(seeded_service.socket)

    async def open_sta2(pilot: Pilot[Any]) -> None:
        await waiting_for(lambda a: a.stations_table.row_count == 5)(pilot)
        app.open_station(FLEET[1][0])
        # Settled, not merely known: its history, restarts and events are drawn after the station itself.
        await waiting_for(lambda a: isinstance(a.screen, StationScreen) and a.screen.settled)(pilot)

    assert snap_compare(app, terminal_size=size, run_before=open_sta2)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("tab", ["firmware", "rollouts", "events", "lan", "alerts"])
def test_tab_layouts(snap_compare: Any, seeded_service: ServeProcess, size: tuple[int, int], tab: str) -> None:
    app = StationmasterApp(seeded_service.socket)

    async def open_tab(pilot: Pilot[Any]) -> None:
        await waiting_for(lambda a: a.stations_table.row_count == 5)(pilot)
        await pilot.press({"rollouts": "u", "alerts": "exclamation_mark"}.get(tab, tab[0]))
        await waiting_for(lambda a: a.query_one(f"#{tab}-table").row_count > 0)(pilot)  # type: ignore[attr-defined]

    assert snap_compare(app, terminal_size=size, run_before=open_tab)


def _seed_onboarding(serve: ServeProcess) -> None:
    """Two site networks mid-rotation, stations holding some of them, and a bundle in the post."""
    now = time.time()
    db = sqlite3.connect(serve.data_dir / REGISTRY_FILE, timeout=10)
    with db:
        db.execute(
            "INSERT INTO site_wifi (id, ssid, psk, priority, added_at) VALUES (1, 'AP1', 'old-secret', 10, ?)",
            (now - 86400,),
        )
        db.execute(
            "INSERT INTO site_wifi (id, ssid, psk, priority, added_at) VALUES (2, 'AP1-new', 'new-secret', 20, ?)",
            (now - 3600,),
        )
        for mac, held in ((FLEET[0][0], "[1, 2]"), (FLEET[1][0], "[1]"), (FLEET[2][0], "[1, 2]")):
            db.execute(
                "INSERT INTO station_config (mac, sent_etag, sent_wifi, applied_etag, acked_wifi)"
                " VALUES (?, 'e', ?, 'e', ?)",
                (mac, held, held),
            )
        db.execute(
            "INSERT INTO provisions (name, chip, road, token_hash, wifi, created_at)"
            " VALUES ('STA9', 'esp32s3', 'bundle', 'h', '[1]', ?)",
            (now - 7200,),
        )
    db.close()


def test_wifi_layout(snap_compare: Any, seeded_service: ServeProcess) -> None:
    _seed_onboarding(seeded_service)
    app = StationmasterApp(seeded_service.socket)

    async def show_wifi(pilot: Pilot[Any]) -> None:
        await waiting_for(lambda a: a.stations_table.row_count == 6)(pilot)
        await pilot.press("w")
        await waiting_for(lambda a: a.query_one("#rotation-table").row_count == 4)(pilot)  # type: ignore[attr-defined]

    assert snap_compare(app, terminal_size=(80, 24), run_before=show_wifi)


def test_onboarding_layout(snap_compare: Any, seeded_service: ServeProcess) -> None:
    _seed_onboarding(seeded_service)
    app = StationmasterApp(seeded_service.socket)

    async def show_onboarding(pilot: Pilot[Any]) -> None:
        await waiting_for(lambda a: a.stations_table.row_count == 6)(pilot)
        await pilot.press("n")
        await waiting_for(lambda a: a.query_one("#claim-table").row_count == 1)(pilot)  # type: ignore[attr-defined]

    assert snap_compare(app, terminal_size=(80, 24), run_before=show_onboarding)


def _dialog(
    tab_key: str, keys: tuple[str, ...], shown: Callable[[StationmasterApp], bool]
) -> Callable[[Pilot[Any]], Any]:
    """A run_before: load, go to a tab, press keys, and wait until the dialog shows what it should."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await waiting_for(lambda a: a.stations_table.row_count >= 5)(pilot)
        if tab_key:
            await pilot.press(tab_key)
            await pilot.pause(0.2)
        await pilot.press(*keys)
        await waiting_for(shown)(pilot)
        await pilot.pause(0.2)

    return run_before


def _confirming(words: str) -> Callable[[StationmasterApp], bool]:
    return lambda app: isinstance(app.screen, Confirm) and words in f"{app.screen.question} {app.screen.detail}"


# (name, tab key, keys, what the dialog must say): each dialog whose words are long, whole at 80x24.
LONG_DIALOGS = [
    ("cancel-rollout", "u", ("x",), _confirming("keep what they run now")),
    ("roll-back", "u", ("b",), _confirming("offered their previous image")),
    ("delete-image", "f", ("d",), _confirming("Delete weather 1.4.0 (esp32, 9f9f9f9f9f9f)?")),
    ("assign-to-tag", "f", ("g", *"tag:garden", "enter"), _confirming("every station tagged garden")),
    ("keys-help", "", ("question_mark",), lambda app: isinstance(app.screen, KeysHelp)),
    (
        "rollout-form-refused",
        "u",
        ("N", "ctrl+r"),
        lambda app: isinstance(app.screen, StartRollout) and "✗" in str(app.screen.query_one("#plan").render()),
    ),
    (
        "bundle-without-wifi",
        "n",
        ("b",),
        lambda app: isinstance(app.screen, BundleWizard) and bool(app.screen.query("#bundle-no-wifi")),
    ),
]


@pytest.mark.parametrize(("name", "tab_key", "keys", "shown"), LONG_DIALOGS, ids=[d[0] for d in LONG_DIALOGS])
def test_dialogs_show_their_whole_text_at_80x24(
    snap_compare: Any,
    seeded_service: ServeProcess,
    name: str,
    tab_key: str,
    keys: tuple[str, ...],
    shown: Callable[[StationmasterApp], bool],
) -> None:
    app = StationmasterApp(seeded_service.socket)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_dialog(tab_key, keys, shown))


def test_dropping_a_network_stations_still_need_says_who_whole_at_80x24(
    snap_compare: Any, seeded_service: ServeProcess
) -> None:
    _seed_onboarding(seeded_service)
    app = StationmasterApp(seeded_service.socket)

    async def drop_ap1(pilot: Pilot[Any]) -> None:
        await waiting_for(lambda a: a.stations_table.row_count == 6)(pilot)
        await pilot.press("w")
        await waiting_for(lambda a: a.query_one("#wifi-table").row_count == 2)(pilot)  # type: ignore[attr-defined]
        await pilot.press("down", "d")
        await waiting_for(_confirming("Drop AP1 from every station's list?"))(pilot)
        await pilot.press("y")
        await waiting_for(_confirming("Drop AP1 anyway?"))(pilot)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(80, 24), run_before=drop_ap1)


def test_rejecting_a_station_names_it_whole_at_80x24(snap_compare: Any, seeded_service: ServeProcess) -> None:
    app = StationmasterApp(seeded_service.socket)

    async def reject_sta2(pilot: Pilot[Any]) -> None:
        await waiting_for(lambda a: a.stations_table.row_count == 5)(pilot)
        app.open_station(FLEET[1][0])
        await waiting_for(lambda a: isinstance(a.screen, StationScreen) and a.screen.settled)(pilot)
        await pilot.press("x")
        await waiting_for(_confirming("Reject STA2 (24:0A:C4:00:00:02)?"))(pilot)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(80, 24), run_before=reject_sta2)


def test_an_event_opens_whole_at_80x24(snap_compare: Any, seeded_service: ServeProcess) -> None:
    db = sqlite3.connect(seeded_service.data_dir / REGISTRY_FILE, timeout=10)
    with db:
        db.execute(
            "INSERT INTO events (at, kind, mac, message, data) VALUES (?, 'rollout_station', ?, ?, ?)",
            (
                _DAY + 10 * 3600,
                FLEET[0][0],
                "rollout 1: STA1 failed: came back on 1.4.0, then was restarted by watchdog twice within the soak"
                " of 10 min (uptime 42 s, then 17 s): the wave it was in fails, and the rollout halts there",
                '{"rollout": 1, "wave": 1, "state": "failed", "outcome": "boot_loop"}',
            ),
        )
    db.close()
    app = StationmasterApp(seeded_service.socket)
    assert snap_compare(
        app, terminal_size=(80, 24), run_before=_dialog("e", ("enter",), lambda a: isinstance(a.screen, EventScreen))
    )
