"""A provisioned station's first check-in: it becomes (or takes over) its station row and turns online."""

from __future__ import annotations

from services.core.errors import Unauthorized
from services.core.models import CheckIn
from services.store.journal import EventLog
from services.store.registry import configs as config_rows
from services.store.registry import provisions as provision_rows


async def arrive_by_token(log: EventLog, provision_id: int, token_hash: str, report: CheckIn) -> None:
    """Make the station that presented a token-only provision's token an accepted row under its reported MAC."""
    conn = log.conn
    if not await provision_rows.claim_by_token(conn, provision_id, token_hash, report.mac):
        # Two check-ins raced with the same token: the first one made the row; this one is that station too.
        if await provision_rows.station_for_token(conn, token_hash) == report.mac:
            return
        raise Unauthorized("unknown or revoked token")
    record = await provision_rows.provision_by_id(conn, provision_id)
    assert record is not None
    await provision_rows.provision_station(
        conn, mac=report.mac, name=record.name, chip=report.chip or record.chip, token_hash=token_hash, now=log.now
    )


async def first_check_in(log: EventLog, mac: str, name: str) -> None:
    """Close the provision of a station seen for the first time: it knows the networks its NVS gave it."""
    provision = await provision_rows.mark_arrived(log.conn, mac, name, log.now)
    if provision is not None:
        await config_rows.acknowledge(log.conn, mac, provision.wifi, log.now)
