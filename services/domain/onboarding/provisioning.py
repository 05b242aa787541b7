"""Making a station ready before it ever checks in: record it as awaiting, mint its token, give its NVS image.

Every road that flashes a station (the bench bundle, on-site USB) starts here::

    provisioned = await Provisioning(journal).provision("STA2", "esp32", reach=reach, mac=None)
    provisioned.nvs    # the NVS partition image to flash at provisioned.layout.nvs_offset
    provisioned.token  # the station's bearer token, already inside the image: the only copy there is

Nothing is recorded unless the image could be made. A station whose MAC is known becomes an accepted
station row at once (shown as awaiting until it checks in); one known only by its token becomes a row under
the MAC it reports at its first check-in (services.domain.onboarding.arrival). Either way the admin then sees
"STA2 arrived".
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from dataclasses import dataclass, field

from services.core.chips import parse_chip
from services.core.errors import Conflict, InvalidInput, NotFound
from services.core.labels import parse_name
from services.core.macaddr import parse_mac
from services.core.models import Provision, SiteNetwork
from services.core.tokens import hash_token, mint_token
from services.domain.onboarding.flashmap import FlashLayout, check_bundle_chip
from services.domain.onboarding.nvs import StationSettings, build_nvs_image
from services.store.journal import EventLog, Journal
from services.store.registry import configs as config_rows
from services.store.registry import provisions as provision_rows

_ROAD = re.compile(r"[a-z][a-z0-9_]{0,15}")
_LABEL = {"bundle": "bench bundle", "usb": "USB flash"}


@dataclass(frozen=True, slots=True)
class ApplianceReach:
    """Where a station on the site's LAN finds the appliance: its mDNS name, an address to fall back on, a port."""

    host: str
    address: str
    port: int


@dataclass(frozen=True, slots=True)
class Provisioned:
    """A provision just made: the record, the station's token (secret) and its NVS image."""

    provision: Provision
    token: str = field(repr=False)
    settings: StationSettings = field(repr=False)
    nvs: bytes = field(repr=False)
    layout: FlashLayout


@dataclass(frozen=True, slots=True)
class Prepared:
    """A provision checked and ready (its token minted, its NVS image made), not recorded yet."""

    name: str
    chip: str
    mac: str | None
    road: str
    firmware: str | None
    replace: bool
    networks: tuple[SiteNetwork, ...] = field(repr=False)
    token: str = field(repr=False)
    settings: StationSettings = field(repr=False)
    nvs: bytes = field(repr=False)
    layout: FlashLayout


class Provisioning:
    """Provisions: make them, list them, cancel them."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._registry = journal.registry

    async def provision(
        self,
        name: object,
        chip: object,
        *,
        reach: ApplianceReach,
        mac: object = None,
        layout: FlashLayout | None = None,
        road: str = "bundle",
        firmware: str | None = None,
        replace: bool = False,
    ) -> Provisioned:
        """Record a station as awaiting arrival, mint its token and return its NVS image.

        `mac` is optional (a bench bundle rarely knows it). `replace` lets a new provision take the place of
        an awaiting one of the same name (its token stops working) or of an accepted station already seen.
        """
        prepared = await self.prepare(
            name, chip, reach=reach, mac=mac, layout=layout, road=road, firmware=firmware, replace=replace
        )

        async def op(log: EventLog) -> Provision:
            return await self.record(log, prepared)

        provision = await self._journal.write(op)
        return Provisioned(provision, prepared.token, prepared.settings, prepared.nvs, prepared.layout)

    async def prepare(
        self,
        name: object,
        chip: object,
        *,
        reach: ApplianceReach,
        mac: object = None,
        layout: FlashLayout | None = None,
        road: str = "bundle",
        firmware: str | None = None,
        replace: bool = False,
    ) -> Prepared:
        """Check the request, mint the token and build the NVS image, recording nothing (`record` does).

        The USB road records only once the chip holds the image, so that a flash cut short leaves no station.
        """
        station_name = parse_name(name)
        chip_name = parse_chip(chip)
        check_bundle_chip(chip_name)
        station_mac = None if mac is None or mac == "" else parse_mac(mac)
        if not _ROAD.fullmatch(road):
            raise InvalidInput(f"{road[:20]!r} is not a road name")
        flash = layout or FlashLayout()
        networks = tuple(await self._registry.wifi.all())
        if not networks:
            raise InvalidInput("the site has no Wi-Fi network yet: add one first (`stationmaster wifi add SSID`)")
        token = mint_token()
        settings = StationSettings(station_name, token, reach.host, reach.address, reach.port, networks)
        # The generator is pure CPU (a few milliseconds): still, the event loop serves stations meanwhile.
        nvs = await asyncio.to_thread(build_nvs_image, settings, flash.nvs_size)
        return Prepared(
            station_name, chip_name, station_mac, road, firmware, replace, networks, token, settings, nvs, flash
        )

    async def record(self, log: EventLog, prepared: Prepared, mac: str | None = None) -> Provision:
        """Record a prepared station inside the caller's transaction (`mac`, if given, is the one the chip has)."""
        station_name, chip_name, networks = prepared.name, prepared.chip, prepared.networks
        station_mac = mac or prepared.mac
        road, firmware, token = prepared.road, prepared.firmware, prepared.token
        await _make_room(log, station_name, station_mac, prepared.replace)
        record = Provision(
            id=0,
            name=station_name,
            chip=chip_name,
            mac=station_mac,
            road=road,
            wifi=tuple(n.id for n in networks),
            firmware=firmware,
            created_at=log.now,
        )
        created = False
        if station_mac is not None:
            created = await provision_rows.provision_station(
                log.conn,
                mac=station_mac,
                name=station_name,
                chip=chip_name,
                token_hash=hash_token(token),
                now=log.now,
            )
            # Until its first config, it holds the networks its NVS image gives it.
            await config_rows.acknowledge(log.conn, station_mac, record.wifi, log.now)
        token_only = None if station_mac is not None else hash_token(token)
        record_id = await provision_rows.insert(log.conn, record, token_only, created)
        label = _LABEL.get(road, f"the {road} road")
        made = f"{label} made for {station_name}" if road == "bundle" else f"{station_name} provisioned by {label}"
        where = f", MAC {station_mac}" if station_mac else ""
        await log(
            "bundle_made" if road == "bundle" else "onboarding_provisioned",
            station_mac,
            f"{made} ({chip_name}{where}): awaiting its arrival",
            name=station_name,
            road=road,
            networks=[n.ssid for n in networks],
            firmware=firmware,
        )
        return dataclasses.replace(record, id=record_id)

    async def cancel(self, name: object) -> Provision:
        """Cancel the awaiting provision of this name (its token stops working, a row it made goes); return it so."""
        station_name = parse_name(name)

        async def op(log: EventLog) -> Provision:
            found = await provision_rows.awaiting_named(log.conn, station_name)
            if found is None:
                raise NotFound(f"no station called {station_name!r} is awaiting its arrival")
            await _cancel(log, *found)
            return dataclasses.replace(found[0], cancelled_at=log.now)

        return await self._journal.write(op)

    async def awaiting(self) -> list[Provision]:
        """Every provision still awaiting its station."""
        return await self._registry.provisions.awaiting()


async def _make_room(log: EventLog, name: str, mac: str | None, replace: bool) -> None:
    """Refuse (or, with `replace`, cancel) whatever the new provision would clash with."""
    conn = log.conn
    same_name = await provision_rows.awaiting_named(conn, name)
    if same_name is not None:
        if not replace:
            raise Conflict(f"{name} is already awaiting its arrival; cancel it first or replace it")
        await _cancel(log, *same_name)
    if mac is not None:
        earlier = await provision_rows.awaiting_for_mac(conn, mac)
        if earlier is not None:
            if not replace:
                raise Conflict(f"{mac} is already awaiting its arrival as {earlier.name}; cancel or replace it")
            found = await provision_rows.awaiting_named(conn, earlier.name)
            assert found is not None
            await _cancel(log, *found)
        station = await provision_rows.station_in(conn, mac)
        if station is not None and station[1] == "accepted" and station[2] is not None and not replace:
            raise Conflict(
                f"{mac} is {station[0]}, an accepted station already checking in; replace it to provision it"
                " again (its current token stops working)"
            )
    clash = await provision_rows.station_name_taken(conn, name, mac)
    if clash is not None:
        raise Conflict(f"the name {name!r} is already used by station {clash}")


async def _cancel(log: EventLog, provision: Provision, created_station: bool) -> None:
    if provision.mac is not None:
        await provision_rows.unprovision_station(log.conn, provision.mac, created=created_station)
    await provision_rows.cancel(log.conn, provision.id, log.now)
    await log(
        "bundle_cancelled" if provision.road == "bundle" else "onboarding_cancelled",
        provision.mac,
        f"{_LABEL.get(provision.road, provision.road)} of {provision.name} cancelled: its token no longer works",
        name=provision.name,
    )
