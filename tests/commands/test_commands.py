"""Commands round-trip with their events: queued, delivered at check-in, answered; the unheard ones expire."""

from __future__ import annotations

import aiohttp
import pytest

from appliance.contract.client import AdminClient, AdminError
from tests.stationkit import accepted, check_in, event_stream, next_event

MAC = "24:0A:C4:00:00:31"
OTHER = "24:0A:C4:00:00:32"


async def answer(
    http: aiohttp.ClientSession, command_id: int, token: str | None, status: str, message: str = ""
) -> tuple[int, dict[str, object]]:
    """A station's POST /api/v1/commands/<id>."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"status": status, "message": message}
    async with http.post(f"/api/v1/commands/{command_id}", json=body, headers=headers) as response:
        return response.status, await response.json()


async def test_identify_is_delivered_at_the_next_check_in_and_answered(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    token = await accepted(http, admin, MAC)
    async with event_stream(admin) as events:
        sent = await admin.send_command(MAC, "identify", {"seconds": "5"})
        assert (sent["state"], sent["args"]) == ("queued", {"seconds": 5})
        queued = await next_event(events, "command_queued")
        assert queued["data"]["command_id"] == sent["id"]
        answer_1 = await check_in(http, MAC, token)
        assert answer_1["commands"] == [{"id": sent["id"], "kind": "identify", "args": {"seconds": 5}}]
        await next_event(events, "command_delivered")
        # The answer that carried it may be lost: it comes again until the station answers.
        assert (await check_in(http, MAC, token))["commands"] == answer_1["commands"]
        status, body = await answer(http, sent["id"], token, "succeeded", "blinked for 5 s")
        assert (status, body) == (200, {"id": sent["id"], "state": "succeeded"})
        done = await next_event(events, "command_succeeded")
        assert done["message"].endswith("succeeded: blinked for 5 s")
    assert (await check_in(http, MAC, token))["commands"] == []
    shown = await admin.command(sent["id"])
    assert (shown["state"], shown["result"]) == ("succeeded", "blinked for 5 s")
    assert shown["delivered_at"] is not None
    assert shown["finished_at"] is not None
    assert (await answer(http, sent["id"], token, "succeeded"))[0] == 200, "a repeated answer changes nothing"
    assert (await answer(http, sent["id"], token, "failed"))[0] == 409


async def test_a_reboot_succeeds_when_the_station_comes_back_restarted(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    token = await accepted(http, admin, MAC, uptime_s=900)
    async with event_stream(admin) as events:
        sent = await admin.send_command(MAC, "reboot")
        [carried] = (await check_in(http, MAC, token, uptime_s=930))["commands"]
        assert carried["kind"] == "reboot"
        assert (await answer(http, sent["id"], token, "running", "rebooting"))[0] == 200
        await next_event(events, "command_running")
        await check_in(http, MAC, token, uptime_s=4, reset_reason=3, restart_cause="user")
        done = await next_event(events, "command_succeeded")
        assert done["message"].endswith("succeeded: restarted (user)")
    [restart] = await admin.restarts(MAC)
    assert restart["cause"] == "user"
    assert (await admin.command(sent["id"]))["state"] == "succeeded"


async def test_an_undelivered_command_expires(http: aiohttp.ClientSession, admin: AdminClient) -> None:
    await accepted(http, admin, MAC)
    async with event_stream(admin) as events:
        sent = await admin.send_command(MAC, "refresh_config", ttl_s=1)
        expired = await next_event(events, "command_expired", within=6)  # the queue is looked at every 2 s
        assert expired["data"]["command_id"] == sent["id"]
        assert "never delivered" in expired["message"]
    assert (await admin.command(sent["id"]))["state"] == "expired"
    assert await admin.commands(open_only=True) == []


async def test_a_critical_station_is_rebooted_only_when_the_admin_insists(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    token = await accepted(http, admin, MAC)
    await admin.tag(MAC, add=["critical"])
    for kind in ("reboot", "update_now"):
        with pytest.raises(AdminError) as refused:
            await admin.send_command(MAC, kind)
        assert refused.value.code == "confirmation_required"
        assert "tagged critical" in refused.value.message
    assert await admin.commands() == [], "a refusal queues nothing"
    assert (await admin.send_command(MAC, "identify"))["state"] == "queued", "harmless commands need no say"
    forced = await admin.send_command(MAC, "reboot", force=True)
    assert forced["forced"] is True
    [event] = await admin.events(kind="command_queued", limit=1)
    assert "forced past the critical tag" in event["message"]
    assert [c["kind"] for c in (await check_in(http, MAC, token))["commands"]] == ["identify", "reboot"]


async def test_custom_firmware_gets_its_own_words_and_a_failure_is_recorded(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    token = await accepted(http, admin, MAC)
    sent = await admin.send_command(MAC, "set-led", {"colour": "red", "level": 3})
    [carried] = (await check_in(http, MAC, token))["commands"]
    assert carried == {"id": sent["id"], "kind": "set_led", "args": {"colour": "red", "level": 3}}
    assert (await answer(http, sent["id"], token, "failed", "no LED on this board"))[0] == 200
    assert (await admin.command(sent["id"]))["result"] == "no LED on this board"


async def test_a_station_answers_only_for_its_own_commands_with_its_token(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    token = await accepted(http, admin, MAC)
    other = await accepted(http, admin, OTHER)
    sent = await admin.send_command(MAC, "identify")
    await check_in(http, MAC, token)
    assert (await answer(http, sent["id"], None, "succeeded"))[0] == 401
    assert (await answer(http, sent["id"], "not-a-token", "succeeded"))[0] == 401
    assert (await answer(http, sent["id"], other, "succeeded"))[0] == 404, "another station's is not found"
    assert (await answer(http, sent["id"], token, "done"))[0] == 400
    assert (await answer(http, sent["id"], token, "succeeded", "x" * 300))[0] == 400
    assert (await answer(http, 10**6, token, "succeeded"))[0] == 404
    assert (await admin.command(sent["id"]))["state"] == "delivered", "no refusal changed it"


async def test_mistakes_get_clear_errors_and_queue_nothing(http: aiohttp.ClientSession, admin: AdminClient) -> None:
    await check_in(http, OTHER)  # pending
    await accepted(http, admin, MAC)
    cases = [
        (admin.send_command(OTHER, "identify"), "conflict", "only accepted stations take commands"),
        (admin.send_command("24:0A:C4:99:99:99", "identify"), "not_found", "no station"),
        (admin.send_command(MAC, "rm -rf /"), "bad_request", "is not a command kind"),
        (admin.send_command(MAC, "reboot", {"delay": 5}), "bad_request", "reboot takes no arguments"),
        (admin.send_command(MAC, "identify", {"seconds": 9000}), "bad_request", "from 1 to 600"),
        (admin.send_command(MAC, "custom", {"Bad Name": 1}), "bad_request", "argument name"),
        (admin.send_command(MAC, "custom", {"x": [1, 2]}), "bad_request", "a string, a number or true/false"),
        (admin.send_command(MAC, "identify", ttl_s=0), "bad_request", "'ttl_s' must be"),
        (admin.cancel_command(12345), "not_found", "no command 12345"),
    ]
    for call, code, words in cases:
        with pytest.raises(AdminError) as refused:
            await call
        assert refused.value.code == code, refused.value.message
        assert words in refused.value.message
    assert await admin.commands() == []


async def test_the_admin_cancels_a_queued_command(http: aiohttp.ClientSession, admin: AdminClient) -> None:
    token = await accepted(http, admin, MAC)
    sent = await admin.send_command(MAC, "reboot")
    cancelled = await admin.cancel_command(sent["id"])
    assert cancelled["state"] == "cancelled"
    assert (await check_in(http, MAC, token))["commands"] == []
    with pytest.raises(AdminError, match="already cancelled"):
        await admin.cancel_command(sent["id"])
