"""What the admin may do to stations and assignments; every change is logged as an event."""

from __future__ import annotations

from typing import Literal

from appliance.contract.events import EventKind
from services.core.chips import parse_chip
from services.core.errors import InvalidInput
from services.core.labels import parse_name, parse_tags
from services.core.macaddr import parse_mac
from services.core.models import Assignment, Station
from services.domain.fleet.removal import PendingPolicy, StationRemoval
from services.domain.fleet.sketches import chip_family, client_family
from services.store.journal import EventLog, Journal
from services.store.registry import images as image_rows
from services.store.registry import stations as station_rows

_MAX_SETTINGS_BYTES = 8192

# What the admin may set a station to (it is pending by itself, until one of these).
StatusChange = Literal["accepted", "rejected", "retired"]


class Administration:
    """The admin side of the domain for stations and assignments."""

    def __init__(self, journal: Journal, removal: StationRemoval | None = None) -> None:
        self._journal = journal
        self._registry = journal.registry
        self._removal = removal or StationRemoval(journal, PendingPolicy())

    async def delete(self, mac: str) -> Station:
        """Delete a station with everything that hangs off it (the admin's own events about it stay); return it."""
        return await self._removal.delete(mac)

    async def set_status(self, mac: str, status: StatusChange) -> Station:
        """Accept, reject or retire a station (a token is issued on its next check-in once accepted)."""
        station = await self._registry.stations.require(parse_mac(mac))

        async def op(log: EventLog) -> None:
            previous = await station_rows.set_status(log.conn, station.mac, status)
            if previous != status:
                await log(_STATUS_EVENT[status], station.mac, f"{station.name} {status}", previous=previous)

        await self._journal.write(op)
        return await self._registry.stations.require(station.mac)

    async def rename(self, mac: str, name: object) -> Station:
        """Give a station a unique, printable name."""
        new = parse_name(name)
        station = await self._registry.stations.require(parse_mac(mac))

        async def op(log: EventLog) -> None:
            await station_rows.rename(log.conn, station.mac, new)
            await log("station_renamed", station.mac, f"{station.name} renamed to {new}", previous=station.name)

        await self._journal.write(op)
        return await self._registry.stations.require(station.mac)

    async def tag(self, mac: str, add: object = (), remove: object = ()) -> Station:
        """Add and remove tags on a station."""
        adding, removing = parse_tags(add), parse_tags(remove)
        station = await self._registry.stations.require(parse_mac(mac))

        async def op(log: EventLog) -> None:
            await station_rows.change_tags(log.conn, station.mac, adding, removing)
            changes = [f"+{t}" for t in adding] + [f"-{t}" for t in removing]
            await log("station_tagged", station.mac, f"{station.name} tags {' '.join(changes)}")

        await self._journal.write(op)
        return await self._registry.stations.require(station.mac)

    async def set_settings(self, mac: str, settings: object) -> Station:
        """Replace the JSON settings a station receives in its config."""
        if not isinstance(settings, dict):
            raise InvalidInput("settings must be a JSON object")
        if len(repr(settings)) > _MAX_SETTINGS_BYTES:
            raise InvalidInput(f"settings must stay under {_MAX_SETTINGS_BYTES} bytes")
        station = await self._registry.stations.require(parse_mac(mac))

        async def op(log: EventLog) -> None:
            await station_rows.set_settings(log.conn, station.mac, settings)
            await log("station_configured", station.mac, f"{station.name} settings changed")

        await self._journal.write(op)
        return await self._registry.stations.require(station.mac)

    async def assign(self, image_prefix: object, *, station: object = None, tag: object = None) -> Assignment:
        """Assign an image to one station or to a tag (one of them)."""
        if not isinstance(image_prefix, str):
            raise InvalidInput("'image' must be a SHA-256 prefix")
        if (station is None) == (tag is None):
            raise InvalidInput("give exactly one of 'station' or 'tag'")
        image = await self._registry.images.by_prefix(image_prefix)
        chosen = None if station is None else await self._registry.stations.require(parse_mac(station))
        mac = None if chosen is None else chosen.mac
        tag_name = None if tag is None else parse_tags([tag])[0]
        target = f"station {mac}" if mac else f"tag {tag_name}"
        what = " ".join(str(v) for v in (image.project, image.version) if v) or image.sha256[:12]

        async def op(log: EventLog) -> Assignment:
            assignment = await image_rows.assign(log.conn, image.sha256, mac=mac, tag=tag_name, now=log.now)
            await log("image_assigned", mac, f"{what} ({image.chip}) assigned to {target}", sha256=image.sha256)
            if chosen is not None:
                await _learn_chip_from(log, chosen, image.chip, what)
            return assignment

        return await self._journal.write(op)

    async def set_chip(self, mac: str, chip: object) -> Station:
        """Say which chip a station is (the ESP32 family's update client does not tell the model)."""
        model = parse_chip(chip)
        station = await self._registry.stations.require(parse_mac(mac))
        family = chip_family(station.chip) if station.chip is not None else client_family(station.ota_client)
        if family is not None and family != chip_family(model):
            what = station.chip or f"{family}-family station (its update client says so)"
            raise InvalidInput(f"{station.name} is an {what}: it cannot be an {model}")

        async def op(log: EventLog) -> None:
            await station_rows.set_chip(log.conn, station.mac, model)
            was = f" (was {station.chip})" if station.chip not in (None, model) else ""
            await log("station_chip_set", station.mac, f"{station.name} is an {model}{was}", chip=model)

        await self._journal.write(op)
        return await self._registry.stations.require(station.mac)

    async def unassign(self, assignment_id: int) -> None:
        """Remove an assignment."""

        async def op(log: EventLog) -> None:
            await image_rows.unassign(log.conn, assignment_id)
            await log("image_unassigned", None, f"assignment {assignment_id} removed")

        await self._journal.write(op)


async def _learn_chip_from(log: EventLog, station: Station, chip: str, what: str) -> None:
    """An image assigned to one station tells its chip, when the station's own client could not."""
    family = client_family(station.ota_client)
    if station.chip is not None or (family is not None and family != chip_family(chip)):
        return  # known, or an image of another family (it will not be offered, and the note says why)
    await station_rows.set_chip(log.conn, station.mac, chip)
    await log(
        "station_chip_learned",
        station.mac,
        f"{station.name} is taken to be an {chip}: the admin assigned it {what}, built for {chip}",
        chip=chip,
    )


# What each change of status is logged as.
_STATUS_EVENT: dict[StatusChange, EventKind] = {
    "accepted": "station_accepted",
    "rejected": "station_rejected",
    "retired": "station_retired",
}
