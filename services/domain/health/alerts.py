"""Raising and clearing alerts: any domain code calls these inside its own registry write.

An alert is stored (one open per kind and station) and announced as an event: `alert_<kind>` when raised,
`alert_cleared` when cleared, so the TUI, `stationmaster events` and the metrics all see the same thing.
"""

from __future__ import annotations

import re
from typing import Any

from appliance.contract.events import AlertKind, alert_raised
from services.core.errors import InvalidInput
from services.core.models import Alert
from services.store.journal import EventLog
from services.store.registry.health import close_alert, open_alert

# The kinds the appliance raises itself, and what each means; other domain code may add its own.
ALERT_KINDS = {
    "weak_signal": "the station's Wi-Fi signal stayed below the threshold",
    "reboot_loop": "the station keeps restarting without being asked to",
    "offline": "the station missed its check-ins",
    "wrong_version": "after an update the station does not run the version it was given",
    "update_not_taking": "the station downloaded its image in full twice and still runs something else",
    "station_claimed_twice": "two devices claim one MAC: one proves it is the station first seen, the other cannot",
    "pending_cap_reached": "as many stations wait to be accepted as are allowed: the least recently seen are dropped",
}
_KIND = re.compile(r"[a-z][a-z0-9_]{0,31}")


async def raise_alert(log: EventLog, kind: AlertKind, mac: str | None, message: str, **data: Any) -> Alert | None:
    """Raise an alert in the current write: stored and logged as `alert_<kind>`; None if it was already open."""
    if not _KIND.fullmatch(kind):
        raise InvalidInput(f"an alert kind is 1-32 of a-z, 0-9 and '_', starting with a letter: {kind[:40]!r}")
    alert = await open_alert(log.conn, kind=kind, mac=mac, message=message, data=data, now=log.now)
    if alert is not None:
        await log(alert_raised(kind), mac, message, alert_id=alert.id, alert=kind, **data)
    return alert


async def clear_alert(log: EventLog, kind: str, mac: str | None, message: str) -> Alert | None:
    """Clear the open alert of `kind` for `mac` in the current write (`alert_cleared`); None if none was open."""
    alert = await close_alert(log.conn, kind=kind, mac=mac, message=message, now=log.now)
    if alert is not None:
        await log("alert_cleared", mac, message, alert_id=alert.id, alert=kind)
    return alert


async def dismiss_alert(log: EventLog, alert_id: int, message: str) -> Alert | None:
    """Clear one alert by id (the admin's dismissal), logged as `alert_cleared`; None if it was not open."""
    alert = await close_alert(log.conn, alert_id=alert_id, message=message, now=log.now)
    if alert is not None:
        await log("alert_cleared", alert.mac, message, alert_id=alert.id, alert=alert.kind, by="admin")
    return alert
