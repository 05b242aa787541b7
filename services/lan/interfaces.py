"""Which IPv4 addresses mDNS uses: the named interfaces, or every non-loopback one."""

from __future__ import annotations

import ipaddress

import ifaddr


def ipv4_addresses(names: tuple[str, ...] = ()) -> list[str]:
    """Return the IPv4 addresses of the named interfaces (all non-loopback ones when none are named)."""
    found: list[str] = []
    for adapter in ifaddr.get_adapters():
        if names and adapter.nice_name not in names:
            continue
        for ip in adapter.ips:
            if not isinstance(ip.ip, str):
                continue  # IPv6 addresses come as tuples
            address = ipaddress.IPv4Address(ip.ip)
            # Loopback only when asked for by name: tests pin `lo`, a Pi never should.
            if address.is_loopback and not names:
                continue
            found.append(str(address))
    return sorted(set(found))
