"""Picking a compact stream up where it left off: the stored events after its cursor, and the stations seen since."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.adapters.admin_api.compact import Cursor, Message
from services.core.models import LIVE_FIELDS, Station
from services.store.journal import event_message
from services.store.registry import Registry

# More stored events than this since the cursor: fetching the views again costs less than replaying them.
REPLAY_LIMIT = 1000
# A check-in is recorded a moment before it is published, and a write may wait behind others: stations
# seen this long before the cursor are sent again (a few twice rather than one lost).
SEEN_MARGIN_S = 10.0


@dataclass(frozen=True, slots=True)
class Replay:
    """What a stream sends before going live, and whether it carries on from the client's cursor."""

    resumed: bool
    last_event_id: int
    messages: list[Message] = field(default_factory=list)


async def replay(registry: Registry, cursor: Cursor | None) -> Replay:
    """Everything stored since `cursor` (None, or a cursor this registry cannot honour: nothing, not resumed)."""
    last = await registry.history.last_event_id()
    # A cursor from the future is another registry's (a restored backup, another appliance): start afresh.
    if cursor is None or cursor.event_id > last:
        return Replay(resumed=False, last_event_id=last)
    events = await registry.history.events_after(cursor.event_id, REPLAY_LIMIT + 1)
    if len(events) > REPLAY_LIMIT:
        return Replay(resumed=False, last_event_id=last)
    seen = [
        station
        for station in await registry.stations.all()
        if station.last_seen_at is not None and station.last_seen_at >= cursor.at - SEEN_MARGIN_S
    ]
    messages = [checkin_message(station) for station in seen] + [event_message(event) for event in events]
    return Replay(resumed=True, last_event_id=max([last, *(event.id for event in events)]), messages=messages)


def checkin_message(station: Station) -> Message:
    """A station's latest check-in as the live stream carried it, from its row."""
    fields = {name: getattr(station, name) for name in LIVE_FIELDS if getattr(station, name) is not None}
    return {
        "id": None,
        "at": station.last_seen_at,
        "kind": "checkin",
        "mac": station.mac,
        "status": station.status,
        "message": "",
        **fields,
    }
