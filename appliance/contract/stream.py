"""The live stream as a client reads it: server-sent events, and the compact form that resumes after a break."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

JSON = dict[str, Any]


class CompactStream:
    """One client's place in the compact stream (docs/admin-api.md), kept across connections.

    Holds the cursor of the last batch read, sent back as `Last-Event-ID` when reconnecting, and each
    station's last check-in on the current connection, over which the next one's changes are laid.
    """

    def __init__(self, batch_ms: int = 250) -> None:
        self.batch_ms = batch_ms
        self.cursor: str | None = None
        self._checkins: dict[str, JSON] = {}

    def request_headers(self) -> dict[str, str]:
        """What to ask with: the cursor to resume from, if there is one."""
        return {"Last-Event-ID": self.cursor} if self.cursor else {}

    def connected(self, answer_headers: Any) -> bool:
        """A new connection answered: start its check-ins afresh; True if it carries on from the cursor."""
        self._checkins.clear()
        return self.cursor is not None and answer_headers.get("X-Stream-Resumed") == "1"

    def decode(self, event_id: str | None, kind: str | None, data: str) -> list[JSON]:
        """The messages one server-sent event carries (a batch, or one message from a service that sends them plain)."""
        if kind != "batch":
            plain = plain_message(event_id, kind, data)
            return [] if plain is None else [plain]
        try:
            payload = json.loads(data)
        except json.JSONDecodeError:
            return []  # not ours to crash on: a later version may send other payloads
        if not isinstance(payload, list):
            return []
        if event_id:
            self.cursor = event_id
        return [self._whole(message) for message in payload if isinstance(message, dict)]

    def _whole(self, message: JSON) -> JSON:
        if message.get("kind") != "checkin" or not isinstance(message.get("mac"), str):
            return message
        whole = {**self._checkins.get(message["mac"], {}), **message}
        for key in whole.pop("-", None) or ():
            whole.pop(key, None)
        self._checkins[message["mac"]] = whole
        return dict(whole)


async def server_sent_events(content: aiohttp.StreamReader) -> AsyncIterator[tuple[str | None, str | None, str]]:
    """Yield (id, event, data) per server-sent event; comments and unknown fields are skipped."""
    event_id: str | None = None
    kind: str | None = None
    data: list[str] = []
    async for raw in content:
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            if data:
                yield event_id, kind, "\n".join(data)
            # Each event carries its own id: check-ins have none and must not inherit the previous one.
            event_id, kind, data = None, None, []
            continue
        if line.startswith(":"):
            continue  # a comment: the service's keepalive
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            data.append(value)
        elif field == "event":
            kind = value
        elif field == "id":
            event_id = value


def plain_message(event_id: str | None, kind: str | None, data: str) -> JSON | None:
    """A message of the plain stream (None if it is not a JSON object: a later version may send other payloads)."""
    try:
        message = json.loads(data)
    except json.JSONDecodeError:
        return None
    if not isinstance(message, dict):
        return None
    # The payload is authoritative; the SSE fields fill in what it leaves out.
    if event_id is not None:
        message.setdefault("id", int(event_id) if event_id.isdigit() else event_id)
    if kind is not None:
        message.setdefault("kind", kind)
    return message
