"""A station's config for the USB road: the onboarding domain's provision, prepared first, recorded once flashed."""

from __future__ import annotations

import contextlib

from services.adapters.usb.bootloader import Region
from services.adapters.usb.model import PreparedStation
from services.core.errors import Conflict
from services.core.labels import parse_name
from services.domain.onboarding.provisioning import ApplianceReach, Prepared, Provisioning
from services.store.journal import EventLog, Journal
from services.store.registry import provisions as provision_rows
from services.store.registry import stations as station_rows

# Arduino ESP8266 images start with eboot and are written at the very start of flash. The core has no NVS,
# so such a station gets no config: it is accepted by its MAC and handed its token at its first check-in.
_ESP8266_APP_OFFSET = 0x0


class UsbProvisioning:
    """Prepare a station for a chip on a USB port, and record it only once the chip holds it."""

    def __init__(self, journal: Journal) -> None:
        self._provisioning = Provisioning(journal)
        self._journal = journal
        self._registry = journal.registry

    async def prepare(
        self, name: object, chip: str, mac: str | None, *, reach: ApplianceReach, firmware: str, replace: bool
    ) -> PreparedStation:
        """A station ready to be flashed: its name checked, its token and NVS image made; nothing recorded."""
        if chip == "esp8266":
            station = PreparedStation(parse_name(name), chip, (), _ESP8266_APP_OFFSET)
            for known in await self._registry.stations.all():
                if known.name.lower() == station.name.lower() and known.mac != mac:
                    raise Conflict(f"the name {station.name!r} is already used by station {known.mac}")
            return station
        prepared = await self._provisioning.prepare(
            name, chip, reach=reach, mac=mac, road="usb", firmware=firmware, replace=replace
        )
        await self._would_record(prepared)
        layout = prepared.layout
        config = [Region(layout.nvs_offset, prepared.nvs, "config")]
        nvs_end = layout.nvs_offset + layout.nvs_size
        if layout.app_offset > nvs_end:
            # In the default partition tables otadata sits between NVS and the first app: erasing it makes the
            # bootloader start the app just written, not an older one a past OTA update left in the other slot.
            config.append(Region(nvs_end, b"\xff" * (layout.app_offset - nvs_end), "OTA boot selection"))
        secrets = (prepared.token, *(n.psk for n in prepared.networks if n.psk))
        return PreparedStation(prepared.name, chip, tuple(config), layout.app_offset, secrets, prepared)

    async def _would_record(self, prepared: Prepared) -> None:
        """Refuse now what recording would refuse after the flash (a taken name, a station not to be replaced).

        Recording is tried and rolled back: after the flash would be too late, since the chip's old settings,
        token and all, would already be overwritten.
        """

        async def op(entry: EventLog) -> None:
            await self._provisioning.record(entry, prepared)
            raise _RolledBack

        with contextlib.suppress(_RolledBack):
            await self._journal.write(op)

    async def commit(self, prepared: PreparedStation, mac: str, entry: EventLog) -> None:
        """Record the flashed station (accepted, with the token its NVS holds), in the caller's transaction."""
        if prepared.provision is not None:
            await self._provisioning.record(entry, prepared.provision, mac)
            return
        # An ESP8266: accepted by its MAC, its history kept if it was known; no token until it checks in, and the
        # key it makes after this flash is pinned at that first check-in.
        conn = entry.conn
        clash = await provision_rows.station_name_taken(conn, prepared.name, mac)
        if clash is not None:
            raise Conflict(f"the name {prepared.name!r} is already used by station {clash}")
        await station_rows.insert_pending(conn, mac, entry.now, prepared.name)
        await conn.execute(
            "UPDATE stations SET name = ?, status = 'accepted', chip = ?, token_hash = NULL, token_unconfirmed = 0,"
            " last_seen_at = NULL, key_hash = NULL, key_pinned_at = NULL WHERE mac = ?",
            (prepared.name, prepared.chip, mac),
        )


class _RolledBack(Exception):
    """Raised inside a trial write so that the registry rolls it back."""
