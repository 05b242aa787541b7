"""A station's config for the USB road, made with the onboarding domain's NVS image, recorded only once flashed."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass

from services.errors import Conflict, InvalidInput
from services.fleet.journal import EventLog
from services.fleet.tokens import hash_token, mint_token
from services.models import SiteNetwork
from services.onboarding import FlashLayout, StationSettings, build_nvs_image
from services.registry import Registry
from services.registry import stations as station_rows
from services.usb.bootloader import Region
from services.usb.model import PreparedStation

_NAME = re.compile(r"[\w][\w .\-]{0,47}")  # the rule Administration.rename applies
# Arduino ESP8266 images start with eboot and are written at the very start of flash; the core has no NVS,
# so such a station gets no config: it is accepted by its MAC and handed its token at its first check-in.
_ESP8266_APP_OFFSET = 0x0
_NO_WIFI = {"esp32h2": "the ESP32-H2 has no Wi-Fi radio to reach the appliance with"}


@dataclass(frozen=True, slots=True)
class ApplianceAddress:
    """How a new station finds the appliance: its mDNS name, an address for when mDNS fails, the port."""

    host: str
    address: str
    port: int


class UsbProvisioning:
    """Prepare a station (check the name, mint a token, build its NVS image) and, after the flash, record it."""

    def __init__(
        self, registry: Registry, where: Callable[[], ApplianceAddress], layout: FlashLayout | None = None
    ) -> None:
        self._registry = registry
        self._where = where
        self._layout = layout or FlashLayout()

    async def prepare(self, name: object, chip: str, mac: str | None) -> PreparedStation:
        """A station ready to be flashed; nothing is recorded and nothing said about it leaks its secrets."""
        if not isinstance(name, str) or not _NAME.fullmatch(name.strip()):
            raise InvalidInput("'name' is 1-48 letters, digits, spaces, '.', '-' or '_'")
        name = name.strip()
        if chip in _NO_WIFI:
            raise InvalidInput(f"no USB onboarding for an {chip}: {_NO_WIFI[chip]}")
        for station in await self._registry.stations.all():
            if station.name.lower() == name.lower() and station.mac != mac:
                raise Conflict(f"the name {name!r} is already used by station {station.mac}")
        if chip == "esp8266":
            return PreparedStation(name, chip, (), _ESP8266_APP_OFFSET)
        networks = await self._networks()
        if not networks:
            raise Conflict(
                "the site has no Wi-Fi networks yet, so the station could not reach the appliance:"
                " add one with `stationmaster wifi add SSID`"
            )
        token = mint_token()
        where = self._where()
        settings = StationSettings(name, token, where.host, where.address, where.port, tuple(networks))
        nvs = await asyncio.to_thread(build_nvs_image, settings, self._layout.nvs_size)
        layout = self._layout
        config = [Region(layout.nvs_offset, nvs, "config")]
        gap = layout.app_offset - (layout.nvs_offset + layout.nvs_size)
        if gap > 0:
            # In the default partition tables otadata sits between NVS and the first app: erasing it makes the
            # bootloader start the app just written, not an older one a past OTA update left in the other slot.
            config.append(Region(layout.nvs_offset + layout.nvs_size, b"\xff" * gap, "OTA boot selection"))
        secrets = (token, *(n.psk for n in networks if n.psk))
        return PreparedStation(name, chip, tuple(config), layout.app_offset, secrets)

    async def commit(self, prepared: PreparedStation, mac: str, entry: EventLog) -> None:
        """Record the flashed station as accepted, with the token its NVS holds (none for an ESP8266)."""
        conn, now = entry.conn, entry.now
        if not await station_rows.insert_pending(conn, mac, now, prepared.name):
            await station_rows.rename(conn, mac, prepared.name)
        await station_rows.set_status(conn, mac, "accepted")
        await conn.execute("UPDATE stations SET chip = ? WHERE mac = ?", (prepared.chip, mac))
        token = prepared.secrets[0] if prepared.secrets else None
        if token is not None:
            # Unconfirmed until the station first uses it: if that check-in's answer is lost it may ask again.
            await station_rows.set_token(conn, mac, hash_token(token), confirmed=False)
        else:
            # The new firmware knows no token: forget any old one, so its first check-in is answered with one.
            await conn.execute("UPDATE stations SET token_hash = NULL, token_unconfirmed = 0 WHERE mac = ?", (mac,))

    async def _networks(self) -> list[SiteNetwork]:
        rows = await self._registry.wifi.networks()
        return [
            SiteNetwork(
                id=index,
                ssid=str(row["ssid"]),
                psk=str(row["psk"]),
                priority=int(row["priority"]),  # type: ignore[call-overload]
                hidden=bool(row["hidden"]),
                fallback=bool(row.get("fallback", False)),
            )
            for index, row in enumerate(rows)
        ]
