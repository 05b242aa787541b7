"""Which station holds which site network: what the admin must know before an old network is dropped.

A station holds the networks of the config whose ETag it reported as applied (`config_etag`), or, before
its first config, those its bench bundle's NVS gave it. A network may be dropped only once every accepted
station (and every station still awaiting its arrival) holds all the networks that stay.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import aiosqlite

from services.core.models import ConfigState, Provision, SiteNetwork
from services.store.registry import Registry
from services.store.registry import configs as config_rows
from services.store.registry import provisions as provision_rows
from services.store.registry.wifi import networks_in


@dataclass(frozen=True, slots=True)
class StationWifi:
    """One station's standing in the site's Wi-Fi: what it was sent, what it holds, what it lacks."""

    mac: str | None  # None for a bench bundle that has not arrived (its MAC is not known yet)
    name: str
    state: Literal["accepted", "awaiting"]
    last_seen_at: float | None
    holds: tuple[int, ...]  # network ids it has acknowledged (all it holds, current or not)
    fetched: tuple[int, ...]  # network ids of the config it was last sent
    reports_etag: bool  # whether its firmware has ever reported `config_etag`

    def lacks(self, wanted: Iterable[int]) -> tuple[int, ...]:
        """The ids among `wanted` this station does not hold."""
        held = set(self.holds)
        return tuple(i for i in wanted if i not in held)


@dataclass(frozen=True, slots=True)
class RotationStatus:
    """The site's networks and every station's standing towards them."""

    networks: tuple[SiteNetwork, ...]
    stations: tuple[StationWifi, ...]

    @property
    def current(self) -> tuple[int, ...]:
        """The ids of the site's networks now."""
        return tuple(n.id for n in self.networks)

    @property
    def behind(self) -> tuple[StationWifi, ...]:
        """Stations that lack at least one current network."""
        return tuple(s for s in self.stations if s.lacks(self.current))

    @property
    def complete(self) -> bool:
        """Every station holds every current network."""
        return not self.behind

    def blocking_removal(self, network_id: int) -> tuple[StationWifi, ...]:
        """Stations that would be left short if `network_id` were dropped: they lack a network that stays."""
        staying = [i for i in self.current if i != network_id]
        return tuple(s for s in self.stations if s.lacks(staying))

    def ssids(self, ids: Iterable[int]) -> list[str]:
        """SSIDs of the given network ids (current ones only)."""
        by_id = {n.id: n.ssid for n in self.networks}
        return [by_id[i] for i in ids if i in by_id]


def standing(
    networks: Iterable[SiteNetwork],
    accepted: Iterable[tuple[str, str, float | None]],
    states: Mapping[str, ConfigState],
    awaiting: Iterable[Provision],
) -> RotationStatus:
    """The status from accepted stations (mac, name, last seen), their config states and token-only provisions."""
    stations = [
        StationWifi(
            mac=mac,
            name=name,
            state="accepted" if seen is not None else "awaiting",
            last_seen_at=seen,
            holds=states[mac].acked_wifi if mac in states else (),
            fetched=states[mac].sent_wifi if mac in states else (),
            reports_etag=mac in states and states[mac].applied_etag is not None,
        )
        for mac, name, seen in accepted
    ]
    stations += [
        StationWifi(None, p.name, "awaiting", None, p.wifi, (), False) for p in awaiting if p.mac is None and p.awaiting
    ]
    return RotationStatus(tuple(networks), tuple(sorted(stations, key=lambda s: s.name.lower())))


async def load(registry: Registry) -> RotationStatus:
    """The status as the registry holds it now."""
    accepted = [(s.mac, s.name, s.last_seen_at) for s in await registry.stations.all() if s.status == "accepted"]
    networks, states = await registry.wifi.all(), await registry.configs.all()
    return standing(networks, accepted, states, await registry.provisions.awaiting())


async def load_in(conn: aiosqlite.Connection) -> RotationStatus:
    """The status inside the writer's transaction (to decide a removal, or see a rotation complete)."""
    async with conn.execute("SELECT mac, name, last_seen_at FROM stations WHERE status = 'accepted'") as cursor:
        accepted = [(str(r[0]), str(r[1]), r[2]) for r in await cursor.fetchall()]
    awaiting = await provision_rows.token_only_in(conn)
    states = {s.mac: s for s in await config_rows.states_in(conn)}
    return standing(await networks_in(conn), accepted, states, awaiting)
