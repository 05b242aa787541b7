"""What a station's check-ins and config fetches say about the site networks it holds."""

from __future__ import annotations

from collections.abc import Iterable

from services.domain.sitewifi import rotation
from services.store.journal import EventLog
from services.store.registry import configs as config_rows
from services.store.registry.wifi import networks_in


async def config_sent(log: EventLog, mac: str, etag: str, wifi: Iterable[int]) -> None:
    """Remember the config just sent to a station (its ETag and the networks in it)."""
    await config_rows.record_sent(log.conn, mac, etag, wifi, log.now)


async def config_applied(log: EventLog, mac: str, name: str, etag: str) -> None:
    """A check-in reported `config_etag`: note it; when it proves networks held, say so (and if it was the last)."""
    state = await config_rows.state_in(log.conn, mac)
    if state is not None and state.applied_etag == etag:
        return  # the check-in of a station that is up to date: one indexed read, no write
    current = {n.id for n in await networks_in(log.conn)}
    was_behind = state is None or bool(current - set(state.acked_wifi))
    held = await config_rows.record_applied(log.conn, mac, etag, log.now)
    if held is None:
        return
    status = await rotation.load_in(log.conn)
    await log(
        "wifi_acknowledged",
        mac,
        f"{name} holds the site Wi-Fi list ({', '.join(status.ssids(held)) or 'no networks'})",
        networks=status.ssids(held),
    )
    if was_behind and status.complete and len(status.networks) > 1:
        await log(
            "wifi_rotation_complete",
            None,
            f"every station holds every site network ({', '.join(n.ssid for n in status.networks)}):"
            " an old one may be dropped now",
        )
