"""The compact event stream's wire form: batches, check-ins as what changed, deflate, and the resume cursor.

Over a 3G link every byte and every packet counts: a thousand stations at a 60 s poll check in 17 times a
second, and each check-in in full is a few hundred bytes that mostly repeat the one before.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any

Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a stream got to: the newest stored event it carried, and the service's clock when it was cut."""

    event_id: int
    at: float

    def __str__(self) -> str:
        return f"{self.event_id}:{int(self.at * 1000)}"


def parse_cursor(text: str | None) -> Cursor | None:
    """Read a `Last-Event-ID` cursor (`EVENT:MILLISECONDS`); None for anything else."""
    if not text:
        return None
    event, colon, millis = text.strip().partition(":")
    if not colon or not (event.isascii() and event.isdigit() and millis.isascii() and millis.isdigit()):
        return None
    if len(event) > 18 or len(millis) > 18:
        return None
    return Cursor(int(event), int(millis) / 1000)


class CheckinDeltas:
    """Check-ins as what changed since the same station's previous check-in on this stream.

    The first check-in of a station on a stream goes in full; later ones carry `kind`, `mac` and the fields
    whose value changed, with `-` listing fields that are no longer there. The client keeps the last one of
    each station and lays the change over it.
    """

    def __init__(self) -> None:
        self._last: dict[str, Message] = {}

    def encode(self, message: Message) -> Message:
        """The message as it goes on the wire (anything but a check-in as it is)."""
        if message.get("kind") != "checkin" or not isinstance(message.get("mac"), str):
            return message
        full = dict(message)
        if isinstance(full.get("at"), float):
            full["at"] = round(full["at"], 3)
        previous = self._last.get(full["mac"], {})
        self._last[full["mac"]] = full
        change: Message = {"kind": "checkin", "mac": full["mac"]}
        change.update((key, value) for key, value in full.items() if key not in previous or previous[key] != value)
        gone = [key for key in previous if key not in full]
        if gone:
            change["-"] = gone
        return change


class Deflater:
    """One deflate stream for the whole response, flushed at every write so the client reads each batch at once.

    One stream rather than one per batch: the window remembers the keys and recent MACs across batches.
    """

    def __init__(self) -> None:
        self._zlib = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS)

    def __call__(self, data: bytes) -> bytes:
        """The compressed bytes of `data`, complete up to its end."""
        return self._zlib.compress(data) + self._zlib.flush(zlib.Z_SYNC_FLUSH)


def batch_event(messages: list[Message], cursor: Cursor) -> bytes:
    """One server-sent event carrying a batch, with the cursor to resume after it."""
    data = json.dumps(messages, separators=(",", ":"))
    return f"id: {cursor}\nevent: batch\ndata: {data}\n\n".encode()
