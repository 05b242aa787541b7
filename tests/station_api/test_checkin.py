"""Stations check in, get a token once accepted, and fetch only their own config."""

from __future__ import annotations

from typing import Any

import aiohttp

from appliance.contract.client import AdminClient
from services.root.service import StationmasterService
from tests.stationkit import station_key

STA1 = "24:0A:C4:00:00:01"
STA2 = "24:0A:C4:00:00:02"


def report(mac: str, **fields: Any) -> dict[str, Any]:
    """A check-in body like the contract's example."""
    body: dict[str, Any] = {
        "mac": mac,
        "chip": "esp32",
        "project": "weather",
        "version": "1.0.0",
        "rssi": -67,
        "uptime_s": 120,
        "free_heap": 180000,
        "restart_cause": "power_on",
        "ip": "192.168.1.23",
        "bssid": "11:22:33:44:55:66",
        "station_key": station_key(mac),
    }
    body.update(fields)
    return body


async def checkin(http: aiohttp.ClientSession, body: Any, token: str | None = None) -> tuple[int, Any]:
    """POST a check-in and return (status, JSON answer)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.post("/api/v1/checkin", json=body, headers=headers) as response:
        return response.status, await response.json()


async def accepted_with_token(http: aiohttp.ClientSession, admin: AdminClient, mac: str) -> str:
    """Bring a station from unknown to accepted and return the token it was issued."""
    await checkin(http, report(mac))
    await admin.accept(mac)
    status, answer = await checkin(http, report(mac))
    assert status == 200
    token: str = answer["token"]
    return token


async def test_an_unknown_station_is_recorded_as_pending_and_gets_no_secrets(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    status, answer = await checkin(http, report(STA1))
    assert status == 200
    assert answer["status"] == "pending"
    assert "token" not in answer
    assert answer["config_etag"] is None
    station = await admin.station(STA1)
    assert station["status"] == "pending"
    assert (station["chip"], station["version"], station["ip"]) == ("esp32", "1.0.0", "192.168.1.23")
    kinds = [e["kind"] for e in await admin.events(mac=STA1)]
    assert "station_discovered" in kinds
    async with http.get("/api/v1/config") as response:
        assert response.status == 401


async def test_an_accepted_station_gets_a_token_then_its_config_with_the_site_wifi(
    http: aiohttp.ClientSession, admin: AdminClient, service: StationmasterService
) -> None:
    assert service.registry is not None
    await service.registry.db.write(
        lambda conn: conn.execute("INSERT INTO site_wifi (ssid, psk, priority) VALUES ('AP1', 'broome-secret', 5)")
    )
    token = await accepted_with_token(http, admin, STA1)
    status, answer = await checkin(http, report(STA1, rssi=-70), token)
    assert status == 200
    assert "token" not in answer, "a token is handed out once, not on every check-in"
    async with http.get("/api/v1/config", headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.status == 200
        etag = response.headers["ETag"]
        config = await response.json()
    assert etag == answer["config_etag"]
    assert config["wifi"] == [
        {"ssid": "AP1", "psk": "broome-secret", "priority": 5, "hidden": False, "fallback": False}
    ]
    headers = {"Authorization": f"Bearer {token}", "If-None-Match": etag}
    async with http.get("/api/v1/config", headers=headers) as response:
        assert response.status == 304


async def test_a_station_that_holds_a_token_must_send_it(http: aiohttp.ClientSession, admin: AdminClient) -> None:
    token = await accepted_with_token(http, admin, STA1)
    assert (await checkin(http, report(STA1), token))[0] == 200
    status, answer = await checkin(http, report(STA1))
    assert status == 401
    assert answer["error"]["code"] == "unauthorized"


async def test_a_lost_token_answer_is_replaced_until_the_station_uses_one(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    lost = await accepted_with_token(http, admin, STA1)
    _, answer = await checkin(http, report(STA1))
    fresh = answer["token"]
    assert fresh != lost
    assert (await checkin(http, report(STA1), lost))[0] == 401, "the lost token was replaced"
    assert (await checkin(http, report(STA1), fresh))[0] == 200


async def test_a_station_never_receives_another_stations_secrets(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    token1 = await accepted_with_token(http, admin, STA1)
    await accepted_with_token(http, admin, STA2)
    await admin.set_settings(STA2, {"api_key": "sta2-only"})
    # STA1's token cannot speak for STA2, neither to check in nor to post events.
    status, _ = await checkin(http, report(STA2), token1)
    assert status == 401
    async with http.get("/api/v1/config", headers={"Authorization": f"Bearer {token1}"}) as response:
        config = await response.json()
    assert config["name"] != (await admin.station(STA2))["name"]
    assert "sta2-only" not in str(config)
    async with http.get("/api/v1/config", headers={"Authorization": "Bearer not-a-token"}) as response:
        assert response.status == 401


async def test_rejected_and_retired_stations_are_turned_away(http: aiohttp.ClientSession, admin: AdminClient) -> None:
    await checkin(http, report(STA1))
    await admin.reject(STA1)
    status, answer = await checkin(http, report(STA1))
    assert (status, answer["error"]["code"]) == (403, "forbidden")
    token = await accepted_with_token(http, admin, STA2)
    await admin.retire(STA2)
    assert (await checkin(http, report(STA2), token))[0] == 401, "retiring revokes the token"
    assert (await checkin(http, report(STA2)))[0] == 403


async def test_station_events_reach_the_admin(http: aiohttp.ClientSession, admin: AdminClient) -> None:
    token = await accepted_with_token(http, admin, STA1)
    body = {
        "events": [
            {"kind": "update_started", "message": "update init"},
            {"kind": "update_finished", "message": "updated to v1.4 at 02:00"},
        ]
    }
    async with http.post("/api/v1/events", json=body, headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.status == 202
    messages = [e["message"] for e in await admin.events(mac=STA1)]
    assert "updated to v1.4 at 02:00" in messages
    assert "update init" in messages


async def test_a_restart_and_a_new_version_are_noticed(http: aiohttp.ClientSession, admin: AdminClient) -> None:
    token = await accepted_with_token(http, admin, STA1)
    await checkin(http, report(STA1, uptime_s=5000), token)
    await checkin(http, report(STA1, uptime_s=3, version="1.1.0", restart_cause="watchdog"), token)
    messages = [e["message"] for e in await admin.events(mac=STA1)]
    assert any("restarted (watchdog)" in m for m in messages)
    assert any("now runs 1.1.0 (was 1.0.0)" in m for m in messages)
    history = await admin.checkins(STA1, limit=10)
    assert history[0]["restart_cause"] == "watchdog"


BAD_BODIES: list[tuple[Any, str]] = [
    ({"chip": "esp32"}, "'mac' is required"),
    ({"mac": "not-a-mac"}, "is not a MAC address"),
    ({"mac": STA1, "rssi": "strong"}, "'rssi' must be an integer"),
    ({"mac": STA1, "rssi": 5}, "'rssi' must be between"),
    ({"mac": STA1, "rssi": True}, "'rssi' must be an integer"),
    ({"mac": STA1, "chip": "z80"}, "unknown chip"),
    ({"mac": STA1, "ip": "999.1.1.1"}, "not an IP address"),
    ({"mac": STA1, "version": "x" * 65}, "longer than 64"),
    ([1, 2, 3], "must be a JSON object"),
]


async def test_bad_check_ins_get_a_clear_400_and_change_nothing(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    for body, expected in BAD_BODIES:
        status, answer = await checkin(http, body)
        assert status == 400, body
        assert expected in answer["error"]["message"], (body, answer)
    async with http.post("/api/v1/checkin", data=b"{not json", headers={"Content-Type": "application/json"}) as r:
        assert r.status == 400
        assert "not valid JSON" in (await r.json())["error"]["message"]
    async with http.post("/api/v1/checkin", data=b"\xff\xfe", headers={"Content-Type": "application/json"}) as r:
        assert r.status == 400
    async with http.post("/api/v1/checkin", json={"mac": STA1, "pad": "x" * 20000}) as r:
        assert r.status == 413
        assert (await r.json())["error"]["code"] == "too_large"
    assert await admin.stations() == [], "no rejected request left a station behind"
