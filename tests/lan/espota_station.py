"""The station side of espota, written from the protocol: what ArduinoOTA does on an ESP."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass, field


@dataclass
class OtaStation:
    """An ArduinoOTA listener on loopback: invitation, optional challenge, TCP download, verdict."""

    password: str | None = None
    hash_name: str = "md5"  # "md5" (ESP8266, older arduino-esp32) or "sha256" (newer arduino-esp32)
    cut_after: int | None = None  # drop the connection after this many bytes, as a brown-out would
    received: bytearray = field(default_factory=bytearray)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    verdict: str | None = None
    port: int = 0
    _transport: asyncio.DatagramTransport | None = None
    _invitation: tuple[int, int, str] | None = None
    _nonce: str | None = None
    # The loop keeps only weak references to tasks: a download nobody holds can be collected mid-transfer.
    _downloads: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        """Listen for invitations on a free UDP port of 127.0.0.1."""
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: _StationProtocol(self), local_addr=("127.0.0.1", 0)
        )
        self.port = self._transport.get_extra_info("sockname")[1]

    def stop(self) -> None:
        """Stop listening."""
        if self._transport is not None:
            self._transport.close()

    def handle(self, text: str, addr: tuple[str, int]) -> None:
        """React to one UDP message as ArduinoOTA's _onRx does."""
        assert self._transport is not None
        fields = text.split()
        if self._nonce is None and len(fields) == 4 and fields[0] in ("0", "100"):
            self._invitation = (int(fields[1]), int(fields[2]), fields[3])
            if self.password:
                self._nonce = secrets.token_hex(32 if self.hash_name == "sha256" else 16)
                self._transport.sendto(f"AUTH {self._nonce}".encode(), addr)
                return
            self._transport.sendto(b"OK", addr)
            self._start_download(addr[0])
        elif self._nonce is not None and len(fields) == 3 and fields[0] == "200":
            cnonce, response = fields[1], fields[2]
            hashed = self._digest(self.password or "")
            expected = self._digest(f"{hashed}:{self._nonce}:{cnonce}")
            self._nonce = None
            if response == expected:
                self._transport.sendto(b"OK", addr)
                self._start_download(addr[0])
            else:
                self._transport.sendto(b"Authentication Failed", addr)
                self.verdict = "auth failed"
                self.done.set()

    def _start_download(self, host: str) -> None:
        task = asyncio.get_running_loop().create_task(self._download(host))
        self._downloads.add(task)
        task.add_done_callback(self._downloads.discard)

    def _digest(self, text: str) -> str:
        return hashlib.new(self.hash_name, text.encode()).hexdigest()

    async def _download(self, host: str) -> None:
        assert self._invitation is not None
        port, size, md5 = self._invitation
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while len(self.received) < size:
                data = await reader.read(1460)
                if not data:
                    self.verdict = "sender closed"
                    return
                self.received += data
                if self.cut_after is not None and len(self.received) >= self.cut_after:
                    self.verdict = "cut"
                    return
                writer.write(str(len(data)).encode())
                await writer.drain()
            ok = hashlib.md5(self.received).hexdigest() == md5
            self.verdict = "ok" if ok else "md5 mismatch"
            writer.write(b"OK" if ok else b"MD5 Check Failed")
            await writer.drain()
        finally:
            writer.close()
            self.done.set()


class _StationProtocol(asyncio.DatagramProtocol):
    def __init__(self, station: OtaStation) -> None:
        self._station = station

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._station.handle(data.decode("ascii", "replace").strip(), addr)
