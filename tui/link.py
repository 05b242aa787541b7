"""The TUI's one line to the service: the admin client, and the live stream kept open across outages."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from textual.message import Message
from textual.message_pump import MessagePump

from appliance.contract.client import AdminClient, AdminError
from appliance.contract.stream import CompactStream
from tui.remote import Remote, lost_link

RETRY_S = (0.5, 1.0, 2.0, 5.0)


BATCH_S = 0.1
# How long the service gathers messages before sending them: next to it, not at all (what queued meanwhile
# still goes together); over a slow link a second, so that a thousand stations' check-ins cross it as one
# packet, not seventeen.
SERVICE_BATCH_MS = 0
REMOTE_BATCH_MS = 1000


class ServiceMessages(Message):
    """What the service streamed in the last tenth of a second (stored events and live check-ins), in order."""

    def __init__(self, payloads: list[dict[str, Any]]) -> None:
        super().__init__()
        self.payloads = payloads


class LinkUp(Message):
    """The stream is (again) connected: views should reload what they show."""


class LinkResumed(Message):
    """The stream is connected again and carried on where it broke off: what was missed came with it."""


class LinkDown(Message):
    """The stream broke; the link is retrying."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class ServiceLink:
    """Holds the admin client and pumps the event stream into a widget's message queue."""

    def __init__(self, socket_path: Path, remote: Remote | None = None) -> None:
        self.socket_path = socket_path
        self.remote = remote
        self.client = AdminClient(socket_path, afar=None if remote is None else str(remote.destination))
        self.stream = CompactStream(REMOTE_BATCH_MS if remote is not None else SERVICE_BATCH_MS)

    async def open(self) -> None:
        """Open the client session."""
        await self.client.__aenter__()

    async def close(self) -> None:
        """Close the client session."""
        await self.client.__aexit__(None, None, None)

    async def pump(self, target: MessagePump) -> None:
        """Post every streamed message to `target` forever, reconnecting with backoff when the link drops."""
        buffer: list[dict[str, Any]] = []

        def connected(resumed: bool) -> None:
            target.post_message(LinkResumed() if resumed else LinkUp())

        async def flush_every_tenth() -> None:
            # A thousand stations check in hundreds of times a second: one message per tenth of a second
            # keeps the app's queue short, so a key press is never stuck behind a flood of check-ins.
            while True:
                await asyncio.sleep(BATCH_S)
                if buffer:
                    target.post_message(ServiceMessages(buffer.copy()))
                    buffer.clear()

        flusher = asyncio.create_task(flush_every_tenth())
        try:
            await self._stream(target, buffer, connected)
        finally:
            flusher.cancel()

    async def _stream(self, target: MessagePump, buffer: list[dict[str, Any]], connected: Any) -> None:
        attempt = 0
        while True:
            try:
                async for payload in self.client.follow(self.stream, on_connect=connected):
                    attempt = 0
                    if payload:
                        buffer.append(payload)
                reason = "the service closed the stream"
            except AdminError as exc:
                reason = exc.message
            except Exception as exc:  # whatever breaks the link (a restart, a dropped SSH tunnel) is retried
                reason = str(exc) or type(exc).__name__
            target.post_message(LinkDown(lost_link(self.remote, reason)))
            await asyncio.sleep(RETRY_S[min(attempt, len(RETRY_S) - 1)])
            attempt += 1
