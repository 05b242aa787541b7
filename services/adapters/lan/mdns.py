"""The mDNS responder and browser: announce `_stationmaster._tcp`, record the ESP services around us."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
from dataclasses import dataclass, field

from zeroconf import (  # type: ignore[attr-defined]  # exported at runtime, missing from __all__
    AddressResolverIPv4,
    IPVersion,
    ServiceStateChange,
    Zeroconf,
)
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from services.core.errors import InvalidInput
from services.core.interfaces import WILDCARD, ipv4_addresses, served, why_unannounced
from services.core.macaddr import parse_mac
from services.store.journal import EventLog, Journal
from services.store.registry import lan as lan_rows

log = logging.getLogger(__name__)

STATIONMASTER_TYPE = "_stationmaster._tcp.local."
HTTP_TYPE = "_http._tcp.local."
BROWSED_TYPES = ("_arduino._tcp.local.", "_esphomelib._tcp.local.", HTTP_TYPE)
API_VERSION = "1"
# A plain `_http._tcp` service is kept only when it looks like an ESP: most of a LAN's web servers are not.
_ESP_LOOKING = re.compile(r"esp|esphome|wled|tasmota|shelly|nodemcu|wemos|sonoff", re.IGNORECASE)
_RESOLVE_MS = 3000
_HOST_CHECK_MS = 1500


@dataclass(frozen=True, slots=True)
class MdnsSettings:
    """What the responder announces and where."""

    hostname: str
    port: int
    site_id: str
    version: str
    interfaces: tuple[str, ...] = ()
    extra_types: tuple[str, ...] = ()
    refresh_s: float = 10.0
    listening: tuple[str, ...] = (WILDCARD,)  # the addresses the station API's sockets are bound to


@dataclass(slots=True)
class MdnsStatus:
    """What the admin sees of the responder."""

    hostname: str | None = None
    instance: str | None = None
    addresses: list[str] = field(default_factory=list)
    not_announcing: str | None = None  # why nothing is announced although mDNS is on


class MdnsService:
    """One responder and browser for the process; follows the host's addresses as they change."""

    def __init__(self, settings: MdnsSettings, journal: Journal) -> None:
        self._settings = settings
        self._journal = journal
        self.status = MdnsStatus()
        self._zc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._own_names: set[str] = set()
        self._watch: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._browsing: list[str] = []

    async def start(self) -> None:
        """Announce (where the station API listens) and browse on the current addresses, then keep following them."""
        await self._journal.write(lambda entry: lan_rows.clear(entry.conn))
        self.status.not_announcing = why_unannounced(self._settings.listening)
        if self.status.not_announcing:
            log.warning("mDNS: not announcing, %s", self.status.not_announcing)
        await self._bring_up(*self._addresses())
        self._watch = asyncio.create_task(self._follow_addresses(), name="mdns-addresses")

    async def stop(self) -> None:
        """Say goodbye (so peers forget us at once) and close."""
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        await self._bring_down()

    def _addresses(self) -> tuple[list[str], list[str]]:
        """(where to browse, what to announce) from the interfaces' current addresses."""
        present = ipv4_addresses(self._settings.interfaces)
        if self.status.not_announcing:
            return present, []  # the LAN tab still lists the ESPs around
        # Bound to one address: announced, and browsed, only on the interface that carries it.
        announced = served(self._settings.listening, present)
        return announced, announced

    async def _bring_up(self, browsing: list[str], addresses: list[str]) -> None:
        self._browsing = browsing
        self.status.addresses = addresses
        if not browsing:
            where = ", ".join(self._settings.interfaces) or "any interface"
            if self.status.not_announcing or WILDCARD in self._settings.listening:
                log.warning("mDNS: no IPv4 address on %s yet; waiting for one", where)
            else:
                listening = ", ".join(self._settings.listening)
                log.warning("mDNS: %s, where the station API listens, is not on %s yet; waiting", listening, where)
            return
        zc = AsyncZeroconf(interfaces=browsing, ip_version=IPVersion.V4Only)
        self._zc = zc
        if addresses:
            await self._announce(zc, addresses)
        types = list(dict.fromkeys([*BROWSED_TYPES, *(_full_type(t) for t in self._settings.extra_types)]))
        self._browser = AsyncServiceBrowser(zc.zeroconf, types, handlers=[self._on_change])

    async def _announce(self, zc: AsyncZeroconf, addresses: list[str]) -> None:
        hostname = await self._free_hostname(zc.zeroconf, addresses)
        packed = [socket.inet_aton(a) for a in addresses]
        txt = {"api": API_VERSION, "ota": "/ota", "site": self._settings.site_id, "version": self._settings.version}
        infos = [
            AsyncServiceInfo(
                kind,
                f"{hostname}.{kind}",
                addresses=packed,
                port=self._settings.port,
                properties=txt,
                server=f"{hostname}.local.",
            )
            for kind in (STATIONMASTER_TYPE, HTTP_TYPE)
        ]
        for info in infos:
            wanted = info.name
            await zc.async_register_service(info, allow_name_change=True)
            if info.name != wanted:
                log.warning("mDNS: %s was taken by another device on the LAN; announced as %s", wanted, info.name)
            self._own_names.add(info.name.lower())
        self.status.hostname = f"{hostname}.local"
        self.status.instance = infos[0].name
        log.info("mDNS: announcing %s as %s.local on %s", STATIONMASTER_TYPE, hostname, ", ".join(addresses))

    async def _bring_down(self) -> None:
        for task in list(self._pending):
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)
        if self._browser is not None:
            await self._browser.async_cancel()
            self._browser = None
        if self._zc is not None:
            with contextlib.suppress(Exception):
                await self._zc.async_unregister_all_services()
            await self._zc.async_close()
            self._zc = None
        self._own_names.clear()

    async def _free_hostname(self, zc: Zeroconf, ours: list[str]) -> str:
        """The configured host name, or `name-2`, `name-3`… if another device already answers to it."""
        base = self._settings.hostname
        for number in range(1, 10):
            candidate = base if number == 1 else f"{base}-{number}"
            resolver = AddressResolverIPv4(f"{candidate}.local.")
            if not await resolver.async_request(zc, _HOST_CHECK_MS):
                return candidate
            theirs = set(resolver.parsed_addresses())
            if theirs <= set(ours):
                return candidate
            log.warning("mDNS: %s.local is already answered by %s; trying another name", candidate, ", ".join(theirs))
        return f"{base}-{socket.gethostname()}"

    async def _follow_addresses(self) -> None:
        while True:
            await asyncio.sleep(self._settings.refresh_s)
            browsing, announced = self._addresses()
            if browsing != self._browsing:
                log.info("mDNS: addresses changed from %s to %s; announcing again", self._browsing, browsing)
                await self._bring_down()
                await self._bring_up(browsing, announced)

    def _on_change(self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if name.lower() in self._own_names:
            return
        task = asyncio.get_running_loop().create_task(self._record(zeroconf, service_type, name, state_change))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _record(self, zeroconf: Zeroconf, service_type: str, name: str, change: ServiceStateChange) -> None:
        try:
            if change is ServiceStateChange.Removed:
                await self._journal.write(lambda entry: _forget(entry, name))
                return
            info = AsyncServiceInfo(service_type, name)
            if not await info.async_request(zeroconf, _RESOLVE_MS):
                return
            txt = {
                k.decode("utf-8", "replace"): (v or b"").decode("utf-8", "replace") for k, v in info.properties.items()
            }
            addresses = info.parsed_addresses(IPVersion.V4Only)
            host = info.server
            if service_type == HTTP_TYPE and not _looks_like_esp(name, host, txt):
                return
            await self._journal.write(
                lambda entry: _remember(
                    entry, name, service_type, host, addresses[0] if addresses else None, info.port, txt
                )
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("mDNS: could not record %s", name)


async def _remember(
    entry: EventLog,
    name: str,
    kind: str,
    host: str | None,
    address: str | None,
    port: int | None,
    txt: dict[str, str],
) -> None:
    mac = None
    with contextlib.suppress(InvalidInput):
        mac = parse_mac(txt["mac"]) if txt.get("mac") else None
    board = txt.get("board") or txt.get("platform")
    new = await lan_rows.upsert_service(
        entry.conn,
        name=name,
        type_=kind,
        host=host,
        address=address,
        port=port,
        txt=txt,
        board=board,
        mac=mac,
        now=entry.now,
    )
    if new:
        label = _label(kind)
        where = f" at {address}" if address else ""
        await entry(
            "lan_seen",
            mac,
            f"{_instance(name, kind)} ({label}{', ' + board if board else ''}) appeared{where}",
            service=name,
            address=address,
        )


async def _forget(entry: EventLog, name: str) -> None:
    if await lan_rows.remove_service(entry.conn, name):
        kind = name.split(".", 1)[1] if "." in name else ""
        await entry("lan_gone", None, f"{_instance(name, kind)} left the LAN", service=name)


def _looks_like_esp(name: str, host: str | None, txt: dict[str, str]) -> bool:
    return bool(_ESP_LOOKING.search(name) or _ESP_LOOKING.search(host or "") or {"board", "mac"} & set(txt))


def _instance(name: str, kind: str) -> str:
    return name[: -len(kind) - 1] if kind and name.endswith(kind) else name


def _label(kind: str) -> str:
    return {"_arduino._tcp.local.": "ArduinoOTA", "_esphomelib._tcp.local.": "ESPHome", HTTP_TYPE: "web"}.get(
        kind, kind.removesuffix(".local.")
    )


def _full_type(kind: str) -> str:
    kind = kind.strip().rstrip(".")
    return (kind if kind.endswith(".local") else f"{kind}.local") + "."
