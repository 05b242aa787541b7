"""Which IPv4 addresses mDNS uses: those of the named interfaces (or all) where the station API listens."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import ifaddr

WILDCARD = "0.0.0.0"


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


def served(listening: Sequence[str], present: list[str]) -> list[str]:
    """The addresses among `present` that a station API bound to `listening` answers on."""
    if WILDCARD in listening:
        return present
    return [address for address in present if address in listening]


def why_unannounced(listening: Sequence[str]) -> str | None:
    """Why no station could reach a station API bound to `listening` by what mDNS announces, or None."""
    addresses = [ipaddress.ip_address(a.split("%")[0]) for a in listening if _is_ip(a)]
    if addresses and all(address.is_loopback for address in addresses):
        return "the station API listens on loopback only"
    if not any(address.version == 4 for address in addresses):
        # asyncio binds "::" as IPv6 only, and the responder announces IPv4 (as ESP stations use).
        return "the station API listens on no IPv4 address"
    return None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return False
    return True
