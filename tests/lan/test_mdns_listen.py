"""The appliance announces itself only where its station API listens, so a station never resolves it to an
address where its connection is refused.

Two LANs of network namespaces (tests/lan/netns.py): the appliance has an interface on each. Peers browse
from each LAN: avahi (an independent mDNS stack, the `avahi` fixture, up before the appliance so that its
cache holds whatever the appliance announced) and a python-zeroconf peer that resolves, then connects
(tests/lan/mdns_peer.py).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.contract.client import AdminClient
from tests.conftest import loose, stationmaster_command
from tests.lan.conftest import ApplianceInNamespace
from tests.lan.netns import AvahiHost, ScratchLan

LOOPBACK_ONLY = "mDNS: not announcing, the station API listens on loopback only"


@pytest.fixture
def second_lan(test_lan: ScratchLan) -> Iterator[ScratchLan]:
    """Another bridge, on a subnet of its own."""
    # The first LAN's subnet is 77 to 176 (by process id): 50 below it is another, and always a valid octet.
    lan = ScratchLan(subnet=test_lan.subnet - 50)
    yield lan
    lan.remove()


def stationmaster_instances(avahi: AvahiHost, service_type: str) -> list[str]:
    """The instance names avahi knows for a type whose name mentions stationmaster (it ends at "all for now")."""
    result = subprocess.run(
        avahi.command("avahi-browse", "-pt", service_type), capture_output=True, text=True, timeout=30, check=True
    )
    return [line.split(";")[3] for line in result.stdout.splitlines() if "stationmaster" in line]


def peer_discovers(ns: str, own_address: str) -> dict[str, Any]:
    """What a peer in namespace `ns` finds by browsing, resolving and connecting (tests/lan/mdns_peer.py)."""
    result = subprocess.run(
        ["ip", "netns", "exec", ns, sys.executable, "-m", "tests.lan.mdns_peer", own_address],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def test_bound_to_one_address_it_is_announced_there_only(
    test_lan: ScratchLan, second_lan: ScratchLan, avahi: AvahiHost, tmp_path: Path
) -> None:
    ns, first_address = test_lan.add_host(1)
    _, served = second_lan.add_host(1, into=ns, name="eth1")
    peer_ns, peer_address = second_lan.add_host(2)
    appliance = ApplianceInNamespace(ns, tmp_path / "appliance", "--http-host", served, interfaces=())
    try:
        appliance.wait_announced()
        found = peer_discovers(peer_ns, peer_address)
        assert (found["name"], found["server"]) == ("stationmaster._stationmaster._tcp.local.", "stationmaster.local.")
        assert (found["addresses"], found["port"]) == ([served], 8080)
        assert found["reachable"] == [served]
        # The other LAN hears nothing: nothing there would answer a station.
        assert stationmaster_instances(avahi, "_stationmaster._tcp") == []
        assert stationmaster_instances(avahi, "_http._tcp") == []
        log = appliance.log_path.read_text()
        assert f"announcing _stationmaster._tcp.local. as stationmaster.local on {served}\n" in log
        assert first_address not in log
    finally:
        assert appliance.stop() == 0


async def test_on_loopback_nothing_is_announced_and_doctor_says_so(
    test_lan: ScratchLan, avahi: AvahiHost, tmp_path: Path
) -> None:
    ns, _ = test_lan.add_host(1)
    appliance = ApplianceInNamespace(ns, tmp_path / "appliance", "--http-host", "127.0.0.1")
    try:
        appliance.wait_logged(LOOPBACK_ONLY)
        async with AdminClient(appliance.socket) as client:
            # Its mDNS is on the LAN all the same: it sees an ESP come (the LAN tab), so it could have been heard.
            ready = asyncio.Event()
            seen = asyncio.create_task(_next_event(client, "lan_seen", ready))
            await asyncio.wait_for(ready.wait(), 5)
            publisher = await asyncio.create_subprocess_exec(
                *avahi.command("avahi-publish", "-s", "esp-garden", "_arduino._tcp", "3232", "board=esp32"),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            try:
                await asyncio.wait_for(seen, 10)
            finally:
                publisher.terminate()
                await publisher.wait()
            status = loose(await client.status())
        assert status["mdns"]["not_announcing"] == "the station API listens on loopback only"
        assert status["mdns"]["addresses"] == []
        assert stationmaster_instances(avahi, "_stationmaster._tcp") == []
        assert stationmaster_instances(avahi, "_http._tcp") == []
        doctor = await _doctor_in(ns, appliance.socket)
        assert doctor["verdict"] == "warn"
        assert "not announcing: the station API listens on loopback only" in doctor["seen"]
        assert "0.0.0.0" in doctor["fix"]
        assert appliance.log_path.read_text().count("mDNS: not announcing") == 1
    finally:
        assert appliance.stop() == 0


async def _next_event(client: AdminClient, kind: str, ready: asyncio.Event) -> dict[str, Any]:
    async for message in client.stream_events(on_connect=ready.set):
        if message["kind"] == kind:
            return message
    raise AssertionError("the stream ended")


async def _doctor_in(ns: str, socket: Path) -> dict[str, Any]:
    """`stationmaster doctor --json`'s mDNS finding, run on the appliance's host."""
    process = await asyncio.create_subprocess_exec(
        "ip",
        "netns",
        "exec",
        ns,
        *stationmaster_command("doctor", "--admin-socket", str(socket), "--json"),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    (finding,) = [f for f in json.loads(out) if f["check"] == "mdns"]
    result: dict[str, Any] = finding
    return result
