"""The appliance on a LAN: an independent mDNS client finds it, and it sees ESP services come and go."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

from appliance.contract.client import AdminClient
from tests.conftest import stationmaster_command
from tests.lan.conftest import ApplianceInNamespace
from tests.lan.netns import AvahiHost, ScratchLan, run, wait_for_line


def browse(avahi: AvahiHost, service_type: str) -> subprocess.Popen[str]:
    """`avahi-browse -rp` for a type, left running so that its lines can be awaited."""
    return subprocess.Popen(
        avahi.command("avahi-browse", "-rp", service_type), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def resolved(line: str, instance: str) -> bool:
    """An avahi-browse line that resolves the named instance."""
    return line.startswith("=;") and line.split(";")[3] == instance


def test_avahi_browse_finds_the_appliance_and_its_txt(appliance: ApplianceInNamespace, avahi: AvahiHost) -> None:
    result = subprocess.run(
        avahi.command("avahi-browse", "-rpt", "_stationmaster._tcp"),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if resolved(line, "stationmaster")]
    if not lines:  # the first browse may end before the answer: browse until it comes
        watcher = browse(avahi, "_stationmaster._tcp")
        try:
            lines = [wait_for_line(watcher, lambda line: resolved(line, "stationmaster"), 10)]
        finally:
            watcher.kill()
    fields = lines[0].split(";")
    assert fields[6:9] == ["stationmaster.local", fields[7], "8080"]
    assert fields[7].endswith(".0.1")
    txt = fields[9]
    for record in ('"api=1"', '"ota=/ota"', '"version=', '"site='):
        assert record in txt


async def _await_kind(client: AdminClient, kind: str, ready: asyncio.Event) -> dict[str, Any]:
    async for message in client.stream_events(on_connect=ready.set):
        if message["kind"] == kind:
            return message
    raise AssertionError("the stream ended")


async def test_an_arduino_ota_device_appears_and_goes_within_5_seconds(
    appliance: ApplianceInNamespace, avahi: AvahiHost
) -> None:
    async with AdminClient(appliance.socket) as client:
        ready = asyncio.Event()
        seen = asyncio.create_task(_await_kind(client, "lan_seen", ready))
        await asyncio.wait_for(ready.wait(), 5)
        publisher = await asyncio.create_subprocess_exec(
            *avahi.command(
                "avahi-publish",
                "-s",
                "esp-garden",
                "_arduino._tcp",
                "3232",
                "board=esp32",
                "tcp_check=no",
                "auth_upload=yes",
            ),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            message = await asyncio.wait_for(seen, 5)
            assert "esp-garden" in message["message"]
            (service,) = await client.lan()
            assert (service["type"], service["board"], service["port"]) == ("_arduino._tcp.local.", "esp32", 3232)
            assert [s["name"] for s in await _lan_command(appliance.socket)] == [service["name"]]
            assert service["address"].endswith(".0.2")
            assert service["txt"]["auth_upload"] == "yes"
            ready = asyncio.Event()
            gone = asyncio.create_task(_await_kind(client, "lan_gone", ready))
            await asyncio.wait_for(ready.wait(), 5)
            publisher.terminate()  # avahi-publish withdraws the service with a goodbye
            await asyncio.wait_for(gone, 5)
            assert await client.lan() == []
            assert await _lan_command(appliance.socket) == []
        finally:
            if publisher.returncode is None:
                publisher.kill()
            await publisher.wait()


async def _lan_command(socket: Path) -> list[dict[str, Any]]:
    """What `stationmaster lan --json` prints, as the admin would run it."""
    process = await asyncio.create_subprocess_exec(
        *stationmaster_command("--admin-socket", str(socket), "lan", "--json"), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0
    services: list[dict[str, Any]] = json.loads(out)["services"]
    return services


def test_shutdown_says_goodbye(appliance: ApplianceInNamespace, avahi: AvahiHost) -> None:
    watcher = browse(avahi, "_stationmaster._tcp")
    try:
        wait_for_line(watcher, lambda line: resolved(line, "stationmaster"), 10)
        assert appliance.stop() == 0
        removal = wait_for_line(watcher, lambda line: line.startswith("-;") and "stationmaster" in line, 5)
        assert removal.split(";")[3] == "stationmaster"
    finally:
        watcher.kill()


def test_a_second_appliance_with_the_same_name_takes_another(
    appliance: ApplianceInNamespace, avahi: AvahiHost, test_lan: ScratchLan, tmp_path: Path
) -> None:
    watcher = browse(avahi, "_stationmaster._tcp")
    ns, _ = test_lan.add_host(3)
    second = ApplianceInNamespace(ns, tmp_path / "second")
    try:
        wait_for_line(watcher, lambda line: resolved(line, "stationmaster"), 10)
        line = wait_for_line(watcher, lambda line: resolved(line, "stationmaster-2"), 15)
        assert line.split(";")[6] == "stationmaster-2.local"
        assert line.split(";")[7].endswith(".0.3")
    finally:
        watcher.kill()
        assert second.stop() == 0
    assert "already answered" in second.log_path.read_text()


def test_a_changed_address_is_announced(
    appliance: ApplianceInNamespace, avahi: AvahiHost, test_lan: ScratchLan
) -> None:
    old = f"10.{test_lan.subnet}.0.1"
    new = f"10.{test_lan.subnet}.0.11"
    # A new DHCP lease: the old address goes, a new one comes (and the multicast route with it).
    run("ip", "-n", appliance.ns, "addr", "del", f"{old}/24", "dev", "eth0")
    run("ip", "-n", appliance.ns, "addr", "add", f"{new}/24", "dev", "eth0")
    run("ip", "-n", appliance.ns, "route", "replace", "224.0.0.0/4", "dev", "eth0")
    watcher = browse(avahi, "_stationmaster._tcp")
    try:
        line = wait_for_line(watcher, lambda line: resolved(line, "stationmaster") and line.split(";")[7] == new, 30)
    finally:
        watcher.kill()
    assert line.split(";")[6] == "stationmaster.local"
    assert "addresses changed" in appliance.log_path.read_text()
