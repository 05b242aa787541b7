"""What the service says about itself on `GET /v1/status`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    """Facts fixed when the service starts."""

    version: str
    station_port: int
    station_url: str  # the station API as bound: http://0.0.0.0:8080 listens on every interface
    hostname: str
    poll_interval_s: int
    offline_after_missed: int = 3
    http_host: str = "0.0.0.0"  # what the station API is bound to (a wildcard says nothing of where to reach it)
    mdns_enabled: bool = False  # announcing by mDNS (perhaps not yet up: it starts after the listeners)
