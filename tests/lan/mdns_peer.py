"""A peer on a test LAN finds the appliance as a station would: browse, resolve, connect; prints what it found.

Run inside a test host: `python -m tests.lan.mdns_peer ADDRESS` (ADDRESS: the host's own, the interface to
use). Prints one JSON line: the instance, its host name, every IPv4 address the answer holds, the port, and
which of those addresses accept a TCP connection there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys

from zeroconf import IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

SERVICE_TYPE = "_stationmaster._tcp.local."


async def discover(own_address: str) -> dict[str, object]:
    """The first `_stationmaster._tcp` instance that answers, resolved and tried."""
    zc = AsyncZeroconf(interfaces=[own_address], ip_version=IPVersion.V4Only)
    found: asyncio.Queue[str] = asyncio.Queue()

    def on_change(zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change is ServiceStateChange.Added:
            found.put_nowait(name)

    browser = AsyncServiceBrowser(zc.zeroconf, [SERVICE_TYPE], handlers=[on_change])
    try:
        while True:
            name = await found.get()
            info = AsyncServiceInfo(SERVICE_TYPE, name)
            if await info.async_request(zc.zeroconf, 3000) and info.port:
                break
        addresses = info.parsed_addresses(IPVersion.V4Only)
        return {
            "name": name,
            "server": info.server,
            "addresses": addresses,
            "port": info.port,
            "reachable": [a for a in addresses if await _accepts(a, info.port)],
        }
    finally:
        await browser.async_cancel()
        await zc.async_close()


async def _accepts(address: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(address, port), 5)
    except OSError:
        return False  # refused: nothing listens there
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


if __name__ == "__main__":
    print(json.dumps(asyncio.run(asyncio.wait_for(discover(sys.argv[1]), 30))), flush=True)
