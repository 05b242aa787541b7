"""A "still here" check-in is answered from memory, and anything that changes its station is seen at once.

The service keeps what a check-in reads of its station (its row, alerts, commands, config applied, token)
between the writes that change it; every commit says which stations it changed. These tests count the
registry's reads and commits, and change stations behind the check-ins' backs in every way the admin can.
"""

from __future__ import annotations

import aiohttp
import pytest

from appliance.contract.client import AdminClient
from services.root.service import StationmasterService
from tests.stationkit import accepted, check_in

MAC = "24:0A:C4:00:16:10"


def round_trips(service: StationmasterService) -> tuple[int, int]:
    """(reads, commits) of the registry so far."""
    assert service.registry is not None
    return service.registry.db.queries, service.registry.db.commits


async def test_a_still_here_check_in_of_a_known_station_touches_no_file(
    service: StationmasterService, http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    token = await accepted(http, admin, MAC)
    await check_in(http, MAC, token, uptime_s=200)  # its view and config ETag are in memory from here on
    uptime = 300
    windows = []
    # The service's own housekeeping reads every 2 s (commands to expire): a window it falls in is tried again.
    for _ in range(3):
        before = round_trips(service)
        for _ in range(10):
            answer = await check_in(http, MAC, token, uptime_s=uptime, rssi=-61)
            assert answer["status"] == "accepted"
            assert answer["config_etag"]
            uptime += 100
        windows.append(tuple(a - b for a, b in zip(round_trips(service), before, strict=True)))
    assert (0, 0) in windows, f"ten 'still here' check-ins: no read, no commit (reads, commits: {windows})"


@pytest.mark.parametrize("change", ["retire", "rename", "tag", "wifi", "command"])
async def test_what_the_admin_changes_is_seen_at_the_next_check_in(
    service: StationmasterService, http: aiohttp.ClientSession, admin: AdminClient, change: str
) -> None:
    token = await accepted(http, admin, MAC)
    first = await check_in(http, MAC, token, uptime_s=200)
    await check_in(http, MAC, token, uptime_s=300)  # answered from memory
    if change == "retire":
        await admin.retire(MAC)
        async with http.post(
            "/api/v1/checkin", json={"mac": MAC, "uptime_s": 400}, headers={"Authorization": f"Bearer {token}"}
        ) as response:
            assert response.status == 401  # its token was revoked with it
        return
    if change == "rename":
        await admin.rename(MAC, "pump-house")
    elif change == "tag":
        await admin.tag(MAC, add=["garden"])
    elif change == "wifi":
        await admin.add_wifi("SiteNet", "a passphrase")
    else:
        await admin.send_command(MAC, "identify")
    answer = await check_in(http, MAC, token, uptime_s=400)
    if change == "command":
        assert [c["kind"] for c in answer["commands"]] == ["identify"]
    else:
        assert answer["config_etag"] != first["config_etag"], "the new config is announced at once"
