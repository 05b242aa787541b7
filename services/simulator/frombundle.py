"""A simulated station that starts with nothing but a bench bundle, as a board flashed with it would.

It is "flashed" by the bundle's own esptool command (the file it writes, at the offset it names), boots
reading its NVS partition from that flash, joins the best of its networks, finds the appliance by mDNS
(the address in its NVS only if mDNS finds nothing), and checks in with the token its NVS holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import signal
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from zeroconf import AddressResolverIPv4, IPVersion  # type: ignore[attr-defined]
from zeroconf.asyncio import AsyncZeroconf

from services.core.interfaces import ipv4_addresses
from services.simulator.nvsread import NvsError, read_namespace
from services.simulator.station import SimulatedStation

log = logging.getLogger(__name__)

NAMESPACE = "stationmaster"
MDNS_TIMEOUT_MS = 3000


class BundleError(Exception):
    """The directory is not a bench bundle a station could boot from; the message says why."""


@dataclass(frozen=True, slots=True)
class BootedSettings:
    """What the station read from its NVS partition at boot."""

    name: str
    chip: str
    token: str = field(repr=False)
    host: str
    address: str
    port: int
    networks: tuple[dict[str, Any], ...] = field(repr=False)
    mac: str | None = None  # the board's own MAC, when the bundle was made for a known one

    def network_to_join(self) -> dict[str, Any]:
        """The network firmware joins first: the highest priority that is not a fallback (else a fallback)."""
        ranked = sorted(self.networks, key=lambda n: (bool(n["fallback"]), -int(n["priority"])))
        if not ranked:
            raise BundleError("the bundle gives the station no Wi-Fi network to join")
        return ranked[0]


def boot_from_bundle(directory: Path) -> BootedSettings:
    """Flash the bundle into an image of the chip's flash and read its NVS partition as the firmware would."""
    try:
        manifest = json.loads((directory / "bundle.json").read_text())
        command: list[str] = manifest["esptool"]
        offset, flashed = int(command[-2], 0), command[-1]
        data = (directory / Path(flashed).name).read_bytes()
        nvs_offset, nvs_size = int(manifest["nvs"]["offset"]), int(manifest["nvs"]["size"])
        chip = str(manifest["chip"])
        known_mac = manifest.get("mac")
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise BundleError(f"{directory} is not a bench bundle: {exc}") from None
    start = nvs_offset - offset
    if start < 0 or start + nvs_size > len(data):
        raise BundleError(f"{flashed} does not cover the NVS partition at {nvs_offset:#x}")
    try:
        keys = read_namespace(data[start : start + nvs_size], NAMESPACE)
    except NvsError as exc:
        raise BundleError(f"the station's NVS partition cannot be read: {exc}") from None
    try:
        networks = tuple(
            {
                "ssid": str(keys[f"wifi{i}_ssid"]),
                "psk": str(keys[f"wifi{i}_psk"]),
                "priority": int(keys[f"wifi{i}_prio"]),
                "hidden": bool(keys[f"wifi{i}_hide"]),
                "fallback": bool(keys[f"wifi{i}_fb"]),
            }
            for i in range(int(keys["wifi_n"]))
        )
        return BootedSettings(
            name=str(keys["name"]),
            chip=chip,
            token=str(keys["token"]),
            host=str(keys["host"]),
            address=str(keys["addr"]),
            port=int(keys["port"]),
            networks=networks,
            mac=str(known_mac) if known_mac else None,
        )
    except KeyError as exc:
        raise BundleError(f"the NVS partition lacks the key {exc}") from None


async def find_appliance(settings: BootedSettings, interfaces: tuple[str, ...] = ()) -> tuple[str, str]:
    """(address, how it was found): by mDNS, as MDNS.queryHost() would, else the address from the NVS."""
    if settings.host:
        addresses = ipv4_addresses(interfaces)
        if addresses:
            zc = AsyncZeroconf(interfaces=addresses, ip_version=IPVersion.V4Only)
            try:
                resolver = AddressResolverIPv4(settings.host.rstrip(".") + ".")
                if await resolver.async_request(zc.zeroconf, MDNS_TIMEOUT_MS):
                    found = resolver.parsed_addresses()
                    if found:
                        return found[0], "mDNS"
            finally:
                await zc.async_close()
    if settings.address:
        return settings.address, "the fallback address"
    raise BundleError(f"mDNS found no {settings.host or 'appliance'} and the bundle holds no fallback address")


def run_from_bundle(
    directory: Path, *, mac_seed: int = 0, interval_s: float = 10.0, duration_s: float | None = None
) -> int:
    """`stationmaster simulate --from-bundle DIR`: boot, find the appliance, check in until stopped."""
    try:
        settings = boot_from_bundle(directory)
    except BundleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_live(settings, mac_seed, interval_s, duration_s))
    return 1


async def _live(settings: BootedSettings, seed: int, interval_s: float, duration_s: float | None) -> int:
    joined = settings.network_to_join()
    # Each board has its own MAC: the one its bundle was made for, else one of its own (two bundles, two boards).
    index = zlib.crc32(settings.name.encode()) % 64_000  # keeps its made-up IP address a valid one
    station = SimulatedStation(index, seed=seed, interval_s=interval_s, chip=settings.chip, crash_rate=0.0)
    if settings.mac is not None:
        station.identity = dataclasses.replace(station.identity, mac=settings.mac)
        station.sketch = dataclasses.replace(station.sketch, sta_mac=settings.mac)
    station.token = settings.token
    _say(f"{settings.name} ({station.mac}, {settings.chip}) booted from its bundle; joined {joined['ssid']}")
    try:
        address, how = await find_appliance(settings)
    except BundleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    url = f"http://{address}:{settings.port}"
    _say(f"{settings.name} found the appliance at {address} by {how}; checking in at {url}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(RuntimeError, ValueError, NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    deadline = None if duration_s is None else time.monotonic() + duration_s
    async with aiohttp.ClientSession(base_url=url, timeout=aiohttp.ClientTimeout(total=30)) as session:
        status = None
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            try:
                await station.cycle(session)
            except (aiohttp.ClientError, TimeoutError) as exc:
                _say(f"{settings.name}: the appliance did not answer ({exc}); trying again")
            if station.status != status:
                status = station.status
                _say(f"{settings.name} checked in: {status}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
    return 0 if station.stats.clean else 1


def _say(line: str) -> None:
    print(f"simulate: {line}", file=sys.stderr, flush=True)
