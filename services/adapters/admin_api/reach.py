"""Where the site's stations find this appliance: what a provision writes into a new station's NVS."""

from __future__ import annotations

import ipaddress

from aiohttp import web

from services.adapters.admin_api.keys import INFO, MDNS
from services.core.errors import InvalidInput
from services.core.interfaces import ipv4_addresses
from services.domain.onboarding.provisioning import ApplianceReach

_WILDCARDS = ("", "0.0.0.0", "::")


def appliance_reach(app: web.Application, address: object = None) -> ApplianceReach:
    """The appliance's mDNS name, an IPv4 address to fall back on (`address` if the admin gave one) and port."""
    info, status = app[INFO], app[MDNS]
    host = (status.hostname or "") if status else (f"{info.hostname}.local" if info.mdns_enabled else "")
    if address is not None and address != "":
        chosen = _ipv4(address)
    elif status and status.addresses:
        chosen = status.addresses[0]
    elif info.http_host not in _WILDCARDS:
        chosen = info.http_host
    else:
        found = ipv4_addresses()
        chosen = found[0] if found else ""
    if not host and not chosen:
        raise InvalidInput("the appliance has no mDNS name and no address to give: pass the address stations reach")
    return ApplianceReach(host, chosen, info.station_port)


def _ipv4(value: object) -> str:
    try:
        return str(ipaddress.IPv4Address(str(value).strip()))
    except ValueError:
        raise InvalidInput(f"{str(value)[:40]!r} is not an IPv4 address") from None
