"""An arduino-esp32 device's ArduinoOTA on loopback: invitation, password challenge, TCP download, verdict.

Two generations of the device, chosen by `scheme`:

- "md5" follows espressif/arduino-esp32 `libraries/ArduinoOTA/src/ArduinoOTA.cpp` @ 2d0a597e (the library's
  version 3.2.0; 3.3.0 and earlier, and the ESP8266's ArduinoOTA, challenge the same way): `setPassword`
  keeps the MD5 hex of the password, `_onRx` answers an invitation with "AUTH " and the MD5 hex of
  `micros()` (32 digits), wants "200 <cnonce> <response>\\n" with both 32 long (else "auth param fail": it
  goes idle without a word), and compares the response with MD5("<kept>:<nonce>:<cnonce>").
- "pbkdf2-sha256" is arduino-esp32 3.3.1 and later (espressif/arduino-esp32 #11855, #11862, #11905). That
  version's ArduinoOTA.cpp is not in the stored sources read, so this branch checks what the matching
  client computes: `tools/espota.py` of 3.3.11 (an unmodified copy, mugiwaraboushi/moshimo-sign
  `tools/espota.py` @ fa1fe3e7, function `authenticate`), together with the 3.3.1 BasicOTA example
  (commit 38aed79): `setPassword` keeps the SHA-256 hex of the password, the nonce is 64 hex digits, the
  cnonce and response must be 64 long, key = PBKDF2-HMAC-SHA256(<kept>, "<nonce>:<cnonce>", 10,000
  iterations), and the response is the SHA-256 hex of "<key hex>:<nonce>:<cnonce>".

Both answer a good response "OK" and a bad one "Authentication Failed", after which they are idle again (a
new invitation gets a new nonce: espota.py's retry relies on it). `password_hash` is `setPasswordHash`: the
string is kept as given, e.g. an old sketch's MD5 hex on a 3.3.1 device.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field

U_FLASH, U_SPIFFS, U_AUTH = 0, 100, 200
INT_BUFFER_SIZE = 16  # ArduinoOTA.h
PBKDF2_ITERATIONS = 10_000


@dataclass
class OtaStation:
    """An ArduinoOTA listener on 127.0.0.1."""

    password: str | None = None  # setPassword(...)
    password_hash: str | None = None  # setPasswordHash(...): kept as given
    scheme: str = "md5"  # "md5" (arduino-esp32 3.3.0 and earlier, ESP8266) or "pbkdf2-sha256" (3.3.1 and later)
    cut_after: int | None = None  # drop the connection after this many bytes, as a brown-out would
    received: bytearray = field(default_factory=bytearray)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    verdict: str | None = None
    auth_failures: int = 0  # "Authentication Failed" answers (OTA_AUTH_ERROR)
    port: int = 0
    _transport: asyncio.DatagramTransport | None = None
    _waiting_auth: bool = False  # OTA_WAITAUTH
    _invitation: tuple[int, int, str] | None = None
    _nonce: str = ""
    # The loop keeps only weak references to tasks: a download nobody holds can be collected mid-transfer.
    _downloads: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def kept(self) -> str:
        """`_password`: what the device keeps of its password (empty: no password)."""
        if self.password_hash is not None:
            return self.password_hash
        if self.password is None:
            return ""
        return self._hex(self.password)

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

    def handle(self, data: bytes, addr: tuple[str, int]) -> None:
        """React to one UDP packet as ArduinoOTAClass::_onRx does."""
        assert self._transport is not None
        packet = _Packet(data)
        if not self._waiting_auth:
            command = packet.parse_int()
            if command not in (U_FLASH, U_SPIFFS):
                return
            ota_port, size = packet.parse_int(), packet.parse_int()
            packet.read()
            md5 = packet.read_until(ord("\n")).strip()
            if len(md5) != 32:
                return  # "bad md5 length"
            self._invitation = (ota_port, size, md5)
            if self.kept:
                self._nonce = self._hex(str(time.monotonic_ns() // 1000))  # the hash of micros()
                self._transport.sendto(f"AUTH {self._nonce}".encode(), addr)
                self._waiting_auth = True
                return
            self._transport.sendto(b"OK", addr)
            self._start_download(addr[0])
            return
        self._waiting_auth = False  # whatever comes next, the device is idle again unless it starts the update
        if packet.parse_int() != U_AUTH:
            return  # "%d was expected. got %d instead"
        packet.read()
        cnonce, response = packet.read_until(ord(" ")), packet.read_until(ord("\n"))
        if len(cnonce) != len(self._nonce) or len(response) != len(self._nonce):
            return  # "auth param fail"
        if response == self._expected(cnonce):
            self._transport.sendto(b"OK", addr)
            self._start_download(addr[0])
        else:
            self.auth_failures += 1
            self._transport.sendto(b"Authentication Failed", addr)

    def _hex(self, text: str) -> str:
        name = "sha256" if self.scheme == "pbkdf2-sha256" else "md5"
        return hashlib.new(name, text.encode()).hexdigest()

    def _expected(self, cnonce: str) -> str:
        if self.scheme != "pbkdf2-sha256":
            return self._hex(f"{self.kept}:{self._nonce}:{cnonce}")
        salt = f"{self._nonce}:{cnonce}".encode()
        key = hashlib.pbkdf2_hmac("sha256", self.kept.encode(), salt, PBKDF2_ITERATIONS).hex()
        return self._hex(f"{key}:{self._nonce}:{cnonce}")

    def _start_download(self, host: str) -> None:
        task = asyncio.get_running_loop().create_task(self._download(host))
        self._downloads.add(task)
        task.add_done_callback(self._downloads.discard)

    async def _download(self, host: str) -> None:
        """`_runUpdate`: connect back, acknowledge each read with the count written, then "OK" or the error."""
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


class _Packet:
    """One received UDP packet read as WiFiUDP is: `parseInt`, `read` and `readStringUntil`."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0

    def peek(self) -> int:
        return self._data[self._at] if self._at < len(self._data) else -1

    def read(self) -> int:
        value = self.peek()
        self._at += 1
        return value

    def parse_int(self) -> int:
        """ArduinoOTAClass::parseInt: skip spaces, then digits up to the first other byte (0 for none, or too many)."""
        while self.peek() == ord(" "):
            self.read()
        digits = ""
        while len(digits) < INT_BUFFER_SIZE - 1:
            if not ord("0") <= self.peek() <= ord("9"):
                return int(digits) if digits else 0
            digits += chr(self.read())
        return 0

    def read_until(self, end: int) -> str:
        """ArduinoOTAClass::readStringUntil: up to `end`, the end of the packet or a zero byte."""
        found = ""
        while (value := self.read()) > 0 and value != end:
            found += chr(value)
        return found


class _StationProtocol(asyncio.DatagramProtocol):
    def __init__(self, station: OtaStation) -> None:
        self._station = station

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._station.handle(data, addr)
