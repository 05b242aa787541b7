"""Alerts are raised and cleared by what stations do (and don't), stored, streamed and listed for the admin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from appliance.contract.client import AdminClient, AdminError
from services.domain.health import Presence, raise_alert, station_state
from services.root.service import StationmasterService
from services.store.journal import EventLog, Journal
from tests.conftest import loose, make_settings
from tests.stationkit import accepted, check_in, event_stream, next_event

MAC = "24:0A:C4:00:00:21"


async def test_a_weak_signal_raises_an_alert_after_three_readings_and_a_good_one_clears_it(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    token = await accepted(http, admin, MAC)
    async with event_stream(admin) as events:
        for rssi in (-85, -60, -84, -86):  # a good reading in between starts the count again
            await check_in(http, MAC, token, rssi=rssi)
        assert await admin.alerts() == [], "two weak readings in a row are not yet an alert"
        await check_in(http, MAC, token, rssi=-88)
        raised = await next_event(events, "alert_weak_signal")
        assert "-88 dBm, below -80 dBm" in raised["message"]
        [alert] = await admin.alerts()
        assert (alert["kind"], alert["mac"], alert["cleared_at"]) == ("weak_signal", MAC, None)
        for rssi in (-78, -70, -72):  # -78 is inside the 3 dB band: neither weak nor good
            await check_in(http, MAC, token, rssi=rssi)
        assert len(await admin.alerts()) == 1
        await check_in(http, MAC, token, rssi=-71)
        cleared = await next_event(events, "alert_cleared")
        assert cleared["data"]["alert"] == "weak_signal"
    assert await admin.alerts() == []
    [kept] = map(loose, await admin.alerts(all_kept=True))
    assert kept["cleared_message"].endswith("signal back to -71 dBm")


async def test_restarts_nobody_asked_for_raise_a_reboot_loop_and_staying_up_clears_it(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    token = await accepted(http, admin, MAC, uptime_s=4000)
    async with event_stream(admin) as events:
        await check_in(http, MAC, token, uptime_s=5, reset_reason=3, restart_cause="ota")  # planned: not counted
        for uptime in (60, 4, 50, 3):
            await check_in(http, MAC, token, uptime_s=uptime, reset_reason=6)  # ESP_RST_TASK_WDT
        assert await admin.alerts() == [], "two crash restarts are not a loop yet"
        await check_in(http, MAC, token, uptime_s=2, reset_reason=4)  # ESP_RST_PANIC
        raised = await next_event(events, "alert_reboot_loop")
        assert raised["message"].endswith("restarted 3 times in 15 min, last by exception")
        await check_in(http, MAC, token, uptime_s=1799)
        assert len(await admin.alerts()) == 1
        await check_in(http, MAC, token, uptime_s=1800)
        cleared = await next_event(events, "alert_cleared")
        assert cleared["data"]["alert"] == "reboot_loop"
    causes = [r["cause"] for r in await admin.restarts(MAC)]
    assert causes == ["exception", "task_watchdog", "task_watchdog", "ota"]


@pytest.fixture
async def quick_service(tmp_path: Path) -> AsyncIterator[StationmasterService]:
    """A service whose stations check in every second: offline after two missed."""
    async with StationmasterService(make_settings(tmp_path, poll_interval_s=1, offline_after_missed=2)) as running:
        yield running


async def test_a_silent_station_goes_offline_with_an_alert_and_its_next_check_in_clears_it(
    quick_service: StationmasterService,
) -> None:
    async with (
        aiohttp.ClientSession(base_url=quick_service.station_url) as http,
        AdminClient(quick_service.settings.admin_socket) as admin,
    ):
        token = await accepted(http, admin, MAC)
        assert (await admin.station(MAC))["state"] == "online"
        status = await admin.status()
        assert (status["late_after_s"], status["offline_after_s"]) == (1.5, 2.0)
        async with event_stream(admin) as events:
            raised = await next_event(events, "alert_offline", within=8)  # the sweep runs every 2 s
            assert "no check-in for" in raised["message"]
            assert (await admin.station(MAC))["state"] == "offline"
            assert (await admin.status())["alerts_open"] == 1
            await check_in(http, MAC, token)
            cleared = await next_event(events, "alert_cleared")
            assert cleared["data"]["alert"] == "offline"
            assert cleared["message"].startswith("esp-000021 is back")
        assert (await admin.station(MAC))["state"] == "online"


def test_the_service_tells_online_late_offline_and_awaiting_by_missed_check_ins() -> None:
    presence = Presence(poll_interval_s=60, offline_after_missed=3)
    assert station_state("accepted", 1000.0, presence, now=1090.0) == "online"
    assert station_state("accepted", 1000.0, presence, now=1091.0) == "late"
    assert station_state("accepted", 1000.0, presence, now=1180.0) == "late"
    assert station_state("accepted", 1000.0, presence, now=1181.0) == "offline"
    assert station_state("accepted", None, presence, now=1181.0) == "awaiting"
    assert station_state("pending", 1000.0, presence, now=9999.0) == "pending"
    assert station_state("accepted", 1000.0, Presence(60, 10), now=1500.0) == "late"


async def test_other_domain_code_raises_a_wrong_version_alert_and_the_right_version_clears_it(
    service: StationmasterService, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    """The rollout tracker's way in: raise_alert inside its own registry write."""
    token = await accepted(http, admin, MAC)
    assert service.registry is not None
    journal = Journal(service.registry, service.bus)

    async def tracker(log: EventLog) -> None:
        await raise_alert(log, "wrong_version", MAC, "came back on 1.0.0, not 1.2.0", expected="1.2.0")
        assert await raise_alert(log, "wrong_version", MAC, "again") is None, "one open alert per kind and station"

    async with event_stream(admin) as events:
        await journal.write(tracker)
        raised = await next_event(events, "alert_wrong_version")
        assert raised["data"]["expected"] == "1.2.0"
        await check_in(http, MAC, token, version="1.1.0")
        assert len(await admin.alerts()) == 1
        await check_in(http, MAC, token, version="1.2.0")
        cleared = await next_event(events, "alert_cleared")
        assert cleared["message"].endswith("now runs 1.2.0")


async def test_the_admin_dismisses_an_alert_and_mistakes_are_refused(
    service: StationmasterService, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    await accepted(http, admin, MAC)
    assert service.registry is not None

    async def op(log: EventLog) -> None:
        await raise_alert(log, "wrong_version", MAC, "came back on 1.0.0", expected="1.2.0")

    await Journal(service.registry, service.bus).write(op)
    [alert] = await admin.alerts()
    dismissed = await admin.clear_alert(alert["id"])
    assert dismissed["cleared_message"] == "dismissed by the admin"
    assert await admin.alerts() == []
    with pytest.raises(AdminError, match="no alert 999"):
        await admin.clear_alert(999)
    [event] = await admin.events(kind="alert_cleared")
    assert event["data"]["by"] == "admin"
