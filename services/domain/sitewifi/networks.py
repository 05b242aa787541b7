"""What the admin may do to the site's Wi-Fi: add, list (passphrases masked), reveal, and drop a network safely."""

from __future__ import annotations

from services.core.errors import Conflict, InvalidInput, NotFound
from services.core.models import SiteNetwork
from services.domain.sitewifi import rotation
from services.domain.sitewifi.rotation import RotationStatus
from services.store.journal import EventLog, Journal
from services.store.registry import wifi as wifi_rows

MAX_NETWORKS = 16  # what a station's NVS holds (services.domain.onboarding.nvs.MAX_NETWORKS)
MAX_PRIORITY = 100


class SiteWifi:
    """The site's networks as secrets: every change is an event, and no event ever carries a passphrase."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._registry = journal.registry

    async def networks(self) -> list[SiteNetwork]:
        """Every network, passphrases included: the caller masks them (the admin API does)."""
        return await self._registry.wifi.all()

    async def add(
        self, ssid: object, psk: object, *, priority: object = 0, hidden: object = False, fallback: object = False
    ) -> SiteNetwork:
        """Add a network: every accepted station's config gains it at once."""
        network = SiteNetwork(
            id=0,
            ssid=parse_ssid(ssid),
            psk=parse_psk(psk),
            priority=_priority(priority),
            hidden=_flag(hidden, "hidden"),
            fallback=_flag(fallback, "fallback"),
        )

        async def op(log: EventLog) -> SiteNetwork:
            if len(await wifi_rows.networks_in(log.conn)) >= MAX_NETWORKS:
                raise Conflict(f"the site already has {MAX_NETWORKS} networks, as many as a station can hold")
            added = await wifi_rows.insert_network(log.conn, network, log.now)
            what = ", ".join(
                w for w, on in (("hidden", added.hidden), ("fallback", added.fallback), ("open", not added.psk)) if on
            )
            await log(
                "wifi_added",
                None,
                f"site network {added.ssid} added (priority {added.priority}{', ' + what if what else ''}):"
                " every accepted station will fetch it",
                ssid=added.ssid,
                network=added.id,
            )
            return added

        return await self._journal.write(op)

    async def remove(self, ssid: object, *, override: bool = False) -> tuple[SiteNetwork, tuple[str, ...]]:
        """Drop a network once no station would be left short (or the admin overrides); return it and who was short."""
        name = parse_ssid(ssid)

        async def op(log: EventLog) -> tuple[SiteNetwork, tuple[str, ...]]:
            network = await self._in_site(log, name)
            status = await rotation.load_in(log.conn)
            short = tuple(s.name for s in status.blocking_removal(network.id))
            last = len(status.networks) == 1
            if (short or last) and not override:
                raise Conflict(_refusal(network, status, short, last))
            await wifi_rows.delete_network(log.conn, network.id)
            forced = f" (overriding: {_names(short)} not ready)" if short and override else ""
            await log(
                "wifi_removed",
                None,
                f"site network {network.ssid} dropped{forced}",
                ssid=network.ssid,
                network=network.id,
                overridden=bool(override and (short or last)),
                not_ready=list(short),
            )
            return network, short

        return await self._journal.write(op)

    async def reveal(self, ssid: object) -> SiteNetwork:
        """The network with its passphrase, for the admin who asked; the asking is logged, the passphrase never."""
        name = parse_ssid(ssid)

        async def op(log: EventLog) -> SiteNetwork:
            network = await self._in_site(log, name)
            await log("wifi_revealed", None, f"the passphrase of {network.ssid} was shown to the admin", ssid=name)
            return network

        return await self._journal.write(op)

    async def status(self) -> RotationStatus:
        """Every accepted (and awaited) station's standing towards the site's networks."""
        return await rotation.load(self._registry)

    @staticmethod
    async def _in_site(log: EventLog, ssid: str) -> SiteNetwork:
        for network in await wifi_rows.networks_in(log.conn):
            if network.ssid == ssid:
                return network
        raise NotFound(f"the site has no network {ssid!r}")


def parse_ssid(value: object) -> str:
    """An SSID: 1-32 bytes of UTF-8 without control characters."""
    if not isinstance(value, str) or not value:
        raise InvalidInput("an SSID is 1-32 bytes of text")
    if len(value.encode("utf-8")) > 32:
        raise InvalidInput("an SSID is at most 32 bytes long")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidInput("an SSID may not contain control characters")
    return value


def parse_psk(value: object) -> str:
    """A WPA passphrase (8-63 printable ASCII characters), a raw key (64 hex digits) or "" for an open network."""
    if not isinstance(value, str):
        raise InvalidInput("the passphrase must be text")
    if value == "":
        return value
    if len(value) == 64 and all(c in "0123456789abcdefABCDEF" for c in value):
        return value
    if not 8 <= len(value) <= 63 or not all(32 <= ord(c) < 127 for c in value):
        raise InvalidInput("a WPA passphrase is 8-63 printable ASCII characters (or 64 hex digits, or empty for open)")
    return value


def _priority(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_PRIORITY:
        raise InvalidInput(f"priority is a whole number from 0 to {MAX_PRIORITY} (higher is tried first)")
    return value


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{name!r} must be true or false")
    return value


def _names(names: tuple[str, ...]) -> str:
    shown = ", ".join(names[:10])
    return shown + (f" and {len(names) - 10} more" if len(names) > 10 else "")


def _refusal(network: SiteNetwork, status: RotationStatus, short: tuple[str, ...], last: bool) -> str:
    if last:
        return f"{network.ssid} is the site's last network: every station would be left with none (override to insist)"
    staying = [n for n in status.networks if n.id != network.id]
    return (
        f"{network.ssid} cannot be dropped yet: {len(short)} station(s) do not hold"
        f" {', '.join(n.ssid for n in staying)}: {_names(short)}. Wait until they check in and acknowledge it,"
        " or override"
    )
