"""`GET /metrics`: the fleet and this process in the Prometheus text format, written by prometheus-client."""

from __future__ import annotations

import asyncio
import ipaddress
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from services.domain.fleet.coalescing import CheckinCoalescer
from services.domain.health.figures import FleetFigures, gather_figures
from services.domain.health.states import Presence
from services.store.registry import Registry

STATES = ("online", "late", "offline", "awaiting", "pending", "rejected", "retired")


@dataclass(frozen=True, slots=True)
class MetricsSource:
    """What the endpoint reads (the registry, the state thresholds, the clock, the check-in counters), and for whom.

    Per-station series name every MAC and show the moment each is accepted: what someone on the LAN needs to
    pose as a station. They are off unless `stations`, and only the addresses in `allow` are answered at all.
    """

    registry: Registry
    presence: Presence
    clock: Callable[[], float]
    coalescer: CheckinCoalescer | None = None
    stations: bool = False
    allow: tuple[str, ...] = ("127.0.0.1", "::1")

    def allows(self, address: str | None) -> bool:
        """True if a scrape from `address` may be answered."""
        try:
            peer = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None:
            peer = peer.ipv4_mapped
        return any(peer in ipaddress.ip_network(allowed, strict=False) for allowed in self.allow)


METRICS = web.AppKey("metrics", MetricsSource)


async def metrics(request: web.Request) -> web.Response:
    """The figures as of now; formatting runs in a thread (the process collector reads /proc)."""
    source = request.app[METRICS]
    if not source.allows(request.remote):
        raise web.HTTPNotFound()  # as if there were no /metrics: nothing says what is here
    figures = await gather_figures(source.registry, source.presence, source.clock)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(figures, source.coalescer, stations=source.stations))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    body = await asyncio.to_thread(generate_latest, registry)
    # The classic text format: what every Prometheus (and its own parser) reads.
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})


class FleetCollector(Collector):
    """The metric families of one set of figures."""

    def __init__(self, figures: FleetFigures, coalescer: CheckinCoalescer | None, *, stations: bool = True) -> None:
        self.figures = figures
        self.coalescer = coalescer
        self.stations = stations  # the per-station series (MACs, names), or the fleet's figures alone

    def collect(self) -> Iterator[Metric]:
        """Yield every family (Prometheus-style names: base units, `_total` counters, an `_info` for versions)."""
        figures = self.figures
        counts = Counter(figures.states.values())
        stations = GaugeMetricFamily("stationmaster_stations", "Stations in each state", labels=["state"])
        for state in STATES:
            stations.add_metric([state], counts.get(state, 0))
        yield stations

        if self.stations:
            yield from self._per_station()
        alerts = GaugeMetricFamily("stationmaster_alerts_open", "Open alerts by kind", labels=["kind"])
        for kind, count in sorted(Counter(a.kind for a in figures.open_alerts).items()):
            alerts.add_metric([kind], count)
        yield alerts

        commands = GaugeMetricFamily("stationmaster_commands", "Commands by state (as kept)", labels=["state"])
        for state, count in sorted(figures.commands.items()):
            commands.add_metric([state], count)
        yield commands

        target = ["image", "project", "version", "target"]
        assigned = GaugeMetricFamily(
            "stationmaster_assignment_stations", "Accepted stations an assigned image is for", labels=target
        )
        updated = GaugeMetricFamily(
            "stationmaster_assignment_updated_stations", "Of those, how many report its version", labels=target
        )
        for progress in figures.assignments:
            image = progress.image
            key = [image.sha256[:12], image.project or "", image.version or "", progress.target]
            assigned.add_metric(key, progress.stations)
            updated.add_metric(key, progress.updated)
        yield from (assigned, updated)

        if self.coalescer is not None:
            held = CounterMetricFamily(
                "stationmaster_checkins", "Check-ins since start, by how they were written", labels=["written"]
            )
            held.add_metric(["together"], self.coalescer.held)
            held.add_metric(["at_once"], self.coalescer.written)
            yield held

    def _per_station(self) -> Iterator[Metric]:
        """The families with a series per station, labelled by its MAC and name."""
        figures = self.figures
        label = ["mac", "name"]
        watched = [s for s in figures.stations if s.status in ("accepted", "pending")]
        names = {s.mac: s.name for s in figures.stations}
        rssi = GaugeMetricFamily("stationmaster_station_rssi_dbm", "Wi-Fi signal at the last check-in", labels=label)
        seen = GaugeMetricFamily(
            "stationmaster_station_last_seen_timestamp_seconds", "When the station last checked in", labels=label
        )
        uptime = GaugeMetricFamily("stationmaster_station_uptime_seconds", "Uptime it last reported", labels=label)
        heap = GaugeMetricFamily("stationmaster_station_free_heap_bytes", "Free heap it last reported", labels=label)
        up = GaugeMetricFamily("stationmaster_station_up", "1 while an accepted station is online", labels=label)
        firmware = InfoMetricFamily(
            "stationmaster_station_firmware", "The firmware a station reports", labels=[*label, "chip", "project"]
        )
        for station in watched:
            key = [station.mac, station.name]
            if station.rssi is not None:
                rssi.add_metric(key, station.rssi)
            if station.last_seen_at is not None:
                seen.add_metric(key, station.last_seen_at)
            if station.uptime_s is not None:
                uptime.add_metric(key, station.uptime_s)
            if station.free_heap is not None:
                heap.add_metric(key, station.free_heap)
            if station.status == "accepted":
                up.add_metric(key, 1 if figures.states.get(station.mac) == "online" else 0)
            firmware.add_metric([*key, station.chip or "", station.project or ""], {"version": station.version or ""})
        yield from (rssi, seen, uptime, heap, up, firmware)

        restarts = CounterMetricFamily(
            "stationmaster_station_restarts", "Restarts seen, by normalised cause", labels=[*label, "cause"]
        )
        for mac, cause, count in figures.restart_counts:
            if mac in names:
                restarts.add_metric([mac, names[mac], cause], count)
        yield restarts

        station_alerts = GaugeMetricFamily(
            "stationmaster_station_alert", "1 for each open alert of a station", labels=[*label, "kind"]
        )
        for alert in figures.open_alerts:
            if alert.mac is not None:
                station_alerts.add_metric([alert.mac, names.get(alert.mac, ""), alert.kind], 1)
        yield station_alerts
