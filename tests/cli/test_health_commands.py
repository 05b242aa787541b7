"""`stationmaster command|alerts|restarts|history` against the real service, as the admin types them."""

from __future__ import annotations

import json

import aiohttp

from appliance.contract.client import AdminClient
from services.root.service import StationmasterService
from tests.cli.test_exit_codes import stationmaster
from tests.stationkit import accepted, check_in

MAC = "24:0A:C4:00:00:71"


async def test_the_admin_sends_lists_and_cancels_commands_from_the_shell(
    service: StationmasterService, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    socket = service.settings.admin_socket
    await accepted(http, admin, MAC)
    await admin.rename(MAC, "pump-house")
    await admin.tag(MAC, add=["critical"])
    sent = await stationmaster(socket, "command", "send", MAC, "identify", "--arg", "seconds=20")
    assert sent.code == 0, sent.stderr
    assert "queued for 24:0A:C4:00:00:71: delivered at its next check-in" in sent.stdout
    refused = await stationmaster(socket, "command", "send", MAC, "reboot")
    assert refused.code == 1
    assert "tagged critical" in refused.stderr
    assert "--force" in refused.stderr
    forced = await stationmaster(socket, "command", "send", MAC, "reboot", "--force", "--json")
    assert forced.code == 0, forced.stderr
    reboot = json.loads(forced.stdout)
    assert (reboot["kind"], reboot["forced"]) == ("reboot", True)
    listed = await stationmaster(socket, "command", "list", "--open")
    assert listed.code == 0
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["ID", "STATION", "KIND", "ARGS", "STATE", "QUEUED", "RESULT"]
    assert [line.split()[2] for line in lines[1:]] == ["reboot", "identify"]
    assert "seconds=20" in lines[2]
    cancelled = await stationmaster(socket, "command", "cancel", str(reboot["id"]))
    assert cancelled.code == 0
    assert "cancelled by the admin" in cancelled.stdout
    bad = await stationmaster(socket, "command", "send", MAC, "identify", "--arg", "seconds")
    assert (bad.code, bad.stderr.strip()) == (2, "error: --arg takes NAME=VALUE, got 'seconds'")


async def test_alerts_restarts_and_history_read_from_the_shell(
    service: StationmasterService, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    socket = service.settings.admin_socket
    assert (await stationmaster(socket, "alerts")).stdout.strip() == "no alerts: every station is well"
    token = await accepted(http, admin, MAC, chip="esp8266", uptime_s=900)
    await check_in(http, MAC, token, chip="esp8266", uptime_s=2, reset_reason=3, rssi=-86)  # REASON_SOFT_WDT_RST
    for _ in range(2):
        await check_in(http, MAC, token, chip="esp8266", uptime_s=30, rssi=-86)
    alerts = await stationmaster(socket, "alerts")
    assert alerts.code == 0
    [row] = alerts.stdout.splitlines()[1:]
    assert row.split()[1:3] == ["weak_signal", MAC]
    restarts = await stationmaster(socket, "restarts", MAC)
    assert restarts.code == 0
    [restart] = restarts.stdout.splitlines()[1:]
    assert restart.split()[2:5] == ["task_watchdog", "crash", "3"]
    cleared = await stationmaster(socket, "alerts", "clear", row.split()[0])
    assert (cleared.code, "dismissed by the admin" in cleared.stdout) == (0, True)
    history = await stationmaster(socket, "history", MAC, "--by", "day")
    assert history.code == 0
    assert history.stdout.startswith("no summaries yet")
