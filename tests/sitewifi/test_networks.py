"""The site's Wi-Fi as secrets: asked for, never on the command line; masked unless revealed; checked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from appliance.contract.client import AdminClient, AdminError
from services.root.service import StationmasterService
from tests.onboarding.cli import stationmaster

PSK = "broome-ap1-secret"


async def test_wifi_add_reads_the_passphrase_from_stdin_and_never_shows_it(
    service: StationmasterService, admin: AdminClient
) -> None:
    socket = service.settings.admin_socket
    on_argv = await stationmaster(socket, "wifi", "add", "AP1", PSK)
    assert on_argv.code == 2, "a passphrase is never taken from the command line (ps, shell history)"
    added = await stationmaster(socket, "wifi", "add", "AP1", "--priority", "10", stdin=PSK + "\n")
    assert added.code == 0, added.stderr
    assert "added AP1 (priority 10)" in added.stdout
    listed = await stationmaster(socket, "wifi", "list")
    as_json = await stationmaster(socket, "wifi", "--json")
    events = await stationmaster(socket, "events", "--json")
    for shown in (added, listed, as_json, events):
        assert PSK not in shown.stdout + shown.stderr
    assert listed.stdout.splitlines()[1].split()[:3] == ["AP1", "10", "********"]
    assert json.loads(as_json.stdout)["networks"][0]["open"] is False
    revealed = await stationmaster(socket, "wifi", "reveal", "AP1")
    assert revealed.stdout.strip() == PSK, "the admin asked for it explicitly"
    (audit,) = await admin.events(kind="wifi_revealed")
    assert PSK not in json.dumps(audit)


async def test_an_open_network_must_be_said_to_be_open(service: StationmasterService, admin: AdminClient) -> None:
    socket = service.settings.admin_socket
    empty = await stationmaster(socket, "wifi", "add", "Cafe", stdin="\n")
    assert (empty.code, "use --open" in empty.stderr) == (2, True)
    assert await admin.wifi_networks() == []
    opened = await stationmaster(socket, "wifi", "add", "Cafe", "--open", "--fallback")
    assert opened.code == 0, opened.stderr
    (network,) = await admin.wifi_networks()
    assert (network["open"], network["fallback"]) == (True, True)


@pytest.mark.parametrize(
    ("ssid", "psk", "priority", "message"),
    [
        ("", "long-enough", 0, "1-32 bytes"),
        ("x" * 33, "long-enough", 0, "at most 32 bytes"),
        ("AP\n1", "long-enough", 0, "control characters"),
        ("AP1", "short", 0, "8-63 printable ASCII"),
        ("AP1", "é" * 10, 0, "8-63 printable ASCII"),
        ("AP1", "long-enough", 101, "from 0 to 100"),
        ("AP1", "long-enough", True, "from 0 to 100"),
    ],
)
async def test_a_bad_network_is_refused_clearly_and_adds_nothing(
    admin: AdminClient, ssid: str, psk: str, priority: int, message: str
) -> None:
    with pytest.raises(AdminError, match=message) as refused:
        await admin.add_wifi(ssid, psk, priority=priority)
    assert refused.value.status == 400
    assert psk not in refused.value.message or len(psk) < 8
    assert await admin.wifi_networks() == []


async def test_an_ssid_is_the_sites_once_and_sixteen_is_the_most(admin: AdminClient) -> None:
    await admin.add_wifi("AP1", PSK)
    with pytest.raises(AdminError, match="already has a network 'AP1'"):
        await admin.add_wifi("AP1", "another-passphrase")
    for i in range(15):
        await admin.add_wifi(f"net-{i}", "a" * 64)  # a raw 256-bit key in hex is a passphrase too
    with pytest.raises(AdminError, match="16 networks"):
        await admin.add_wifi("net-16", PSK)
    assert len(await admin.wifi_networks()) == 16


async def test_the_last_network_is_not_dropped_without_insisting(admin: AdminClient) -> None:
    await admin.add_wifi("AP1", PSK)
    with pytest.raises(AdminError, match="last network"):
        await admin.remove_wifi("AP1")
    await admin.remove_wifi("AP1", override=True)
    assert await admin.wifi_networks() == []
    with pytest.raises(AdminError, match="no network 'AP1'"):
        await admin.remove_wifi("AP1")


async def test_the_rotation_command_names_who_is_behind(
    service: StationmasterService, admin: AdminClient, tmp_path: Path
) -> None:
    await admin.add_wifi("AP1", PSK)
    await admin.make_bundle("STA2", "esp32")  # awaited, holding AP1 from its bundle
    await admin.add_wifi("AP2", "new-ap2-secret")
    shown = await stationmaster(service.settings.admin_socket, "wifi", "rotation")
    assert shown.code == 0, shown.stderr
    assert "AP1: not droppable yet: 1 station(s) lack the others" in shown.stdout
    assert re.search(r"STA2\s+\(awaiting\)\s+lacks AP2", shown.stdout), shown.stdout
    assert "1 station(s) behind: STA2" in shown.stdout
    refused = await stationmaster(service.settings.admin_socket, "wifi", "remove", "AP1")
    assert (refused.code, "STA2" in refused.stderr) == (1, True), "a bundle in the post still counts on AP1"
