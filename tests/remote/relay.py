"""A link that can be cut, between a client and a unix socket: every byte relayed, the requests it carried noted."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path


class SocketRelay:
    """Listens on `path` and relays each connection to `target`; `cut()` drops them all and refuses new ones."""

    def __init__(self, path: Path, target: Path) -> None:
        self.path = path
        self.target = target
        self.sent = bytearray()  # everything clients sent towards the service
        self._up = True
        self._connections: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen."""
        self._server = await asyncio.start_unix_server(self._relay, path=str(self.path))

    async def stop(self) -> None:
        """Stop listening and drop every connection."""
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> None:
        """Drop every connection now, and refuse new ones until `restore()`."""
        self._up = False
        for writer in list(self._connections):
            writer.transport.abort()
        self._connections.clear()

    def restore(self) -> None:
        """Relay again."""
        self._up = True

    def requests(self, line: bytes) -> int:
        """How many requests so far began with `line`, e.g. b"GET /v1/stations HTTP"."""
        return self.sent.count(line)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._up:
            writer.transport.abort()
            return
        try:
            service_reader, service_writer = await asyncio.open_unix_connection(str(self.target))
        except OSError:
            writer.transport.abort()
            return
        self._connections.update((writer, service_writer))
        await asyncio.gather(
            self._pipe(reader, service_writer, note=True), self._pipe(service_reader, writer, note=False)
        )

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, note: bool) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await source.read(65536):
                if note:
                    self.sent += data
                sink.write(data)
                await sink.drain()
        sink.transport.abort()
        self._connections.discard(sink)
