"""The seed's scenario, whole: Addie makes STA2's bundle; STA2, with nothing but that bundle, joins the site's
LAN, finds the appliance by mDNS and checks in; Addie sees "STA2 arrived" and STA2 online. Nobody at the
site, and no admin, does anything after the bundle.

The LAN is the test's own: network namespaces on a bridge (tests/lan/netns.py), the appliance on host 1,
STA2 (`stationmaster simulate --from-bundle`, which reads the NVS image itself) on host 2.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from appliance.contract.client import AdminClient
from tests.conftest import loose, stationmaster_command
from tests.lan.conftest import ApplianceInNamespace
from tests.lan.netns import ScratchLan
from tests.onboarding.cli import stationmaster


async def _arrival(client: AdminClient, ready: asyncio.Event) -> dict[str, Any]:
    async for message in client.stream_events(on_connect=ready.set):
        if message.get("kind") == "station_arrived":
            return message
    raise AssertionError("the event stream ended")


async def _station_boots_from(bundle: Path, ns: str) -> asyncio.subprocess.Process:
    """STA2 powered up on host `ns` of the LAN with the bundle flashed into it."""
    return await asyncio.create_subprocess_exec(
        "ip",
        "netns",
        "exec",
        ns,
        *stationmaster_command("simulate", "--from-bundle", str(bundle), "--interval", "1", "--duration", "60"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


async def _the_bench_makes_a_bundle(socket: Path, out: Path) -> None:
    added = await stationmaster(socket, "wifi", "add", "AP1", "--priority", "10", stdin="broome-ap1-secret\n")
    assert added.code == 0, added.stderr
    made = await stationmaster(socket, "onboard", "bundle", "--name", "STA2", "--chip", "esp32", "--out", str(out))
    assert made.code == 0, made.stderr


async def _sta2_arrives(socket: Path, bundle: Path, ns: str) -> tuple[dict[str, Any], str]:
    async with AdminClient(socket) as client:
        ready = asyncio.Event()
        arrived = asyncio.create_task(_arrival(client, ready))
        await asyncio.wait_for(ready.wait(), 10)
        station = await _station_boots_from(bundle, ns)
        try:
            event = await asyncio.wait_for(arrived, 45)
            found = loose(await client.station(str(event["mac"])))
        finally:
            station.terminate()
            _, err = await station.communicate()
    assert event["message"] == "STA2 arrived"
    assert found["name"] == "STA2"
    assert found["status"] == "accepted"
    assert time.time() - found["last_seen_at"] < 10, "STA2 is online"
    return found, err.decode()


async def test_sta2_arrives_with_nothing_but_its_bundle(
    appliance: ApplianceInNamespace, test_lan: ScratchLan, tmp_path: Path
) -> None:
    bundle = tmp_path / "STA2-bundle"
    await _the_bench_makes_a_bundle(appliance.socket, bundle)
    ns, _ = test_lan.add_host(2)
    found, said = await _sta2_arrives(appliance.socket, bundle, ns)
    assert f"found the appliance at 10.{test_lan.subnet}.0.1 by mDNS" in said, said
    assert found["ip"], "it reported where it is"


async def test_without_mdns_sta2_falls_back_on_the_address_in_its_bundle(test_lan: ScratchLan, tmp_path: Path) -> None:
    ns1, _ = test_lan.add_host(1)
    quiet = ApplianceInNamespace(ns1, tmp_path / "appliance", "--no-mdns")
    try:
        bundle = tmp_path / "STA2-bundle"
        await _the_bench_makes_a_bundle(quiet.socket, bundle)
        ns2, _ = test_lan.add_host(2)
        _, said = await _sta2_arrives(quiet.socket, bundle, ns2)
        assert f"found the appliance at 10.{test_lan.subnet}.0.1 by the fallback address" in said, said
    finally:
        assert quiet.stop() == 0
