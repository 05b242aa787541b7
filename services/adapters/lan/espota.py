"""Push an image to an ArduinoOTA station on the LAN (the espota protocol), reporting progress."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from services.core.errors import DeviceFailed

log = logging.getLogger(__name__)

COMMAND_FLASH = 0
COMMAND_AUTH = 200
ESP8266_PORT = 8266
ESP32_PORT = 3232
_CHUNK = 1024
_INVITE_TRIES = 10
_INVITE_WAIT_S = 1.0
_CONNECT_WAIT_S = 10.0
_ACK_WAIT_S = 10.0
_AUTH_WAIT_S = 10.0
_RESULT_WAIT_S = 60.0
# How an ArduinoOTA station checked the password, in the words espota.py prints (tools/espota.py, 3.3.x).
MD5_SCHEME = "MD5"  # 32-digit nonce: arduino-esp32 up to 3.3.0, the ESP8266
PBKDF2_SCHEME = "PBKDF2-HMAC-SHA256"  # 64-digit nonce: arduino-esp32 3.3.1 and later
LEGACY_SCHEME = "PBKDF2-HMAC-SHA256 over its MD5"  # the same, on a device that keeps an MD5 setPasswordHash()
_PBKDF2_ITERATIONS = 10_000

Progress = Callable[[int, int], None]


class PushFailed(DeviceFailed):
    """The push did not complete; the message says where and why."""


@dataclass(frozen=True, slots=True)
class PushResult:
    """A completed push."""

    address: str
    port: int
    size: int
    md5: str
    authenticated: bool
    auth_scheme: str | None  # how the station checked the password (MD5_SCHEME, PBKDF2_SCHEME, LEGACY_SCHEME)


async def push_image(
    address: str,
    port: int,
    image: bytes,
    *,
    password: str | None = None,
    filename: str = "firmware.bin",
    local_host: str = "0.0.0.0",
    progress: Progress | None = None,
    invite_tries: int = _INVITE_TRIES,
) -> PushResult:
    """Invite the station, answer its challenge, stream the image and wait for its verdict."""
    md5 = hashlib.md5(image).hexdigest()
    connected: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
        asyncio.get_running_loop().create_future()
    )

    def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if connected.done():
            writer.close()  # one station, one connection
        else:
            connected.set_result((reader, writer))

    # The station connects back to us for the data, so we listen first and tell it where.
    server = await asyncio.start_server(on_connect, local_host, 0)
    try:
        local_port = server.sockets[0].getsockname()[1]
        async with _Udp(address, port) as udp:
            invitation = f"{COMMAND_FLASH} {local_port} {len(image)} {md5}\n"
            answer = await udp.ask(invitation, tries=invite_tries, wait_s=_INVITE_WAIT_S)
            if answer is None:
                raise PushFailed(f"no answer from {address}:{port}: is ArduinoOTA running there?")
            scheme = None
            if answer.startswith("AUTH"):
                cnonce_text = f"{filename}{len(image)}{md5}{address}"

                def invite_again() -> Awaitable[str | None]:
                    return udp.ask(invitation, tries=invite_tries, wait_s=_INVITE_WAIT_S)

                scheme = await _authenticate(udp, answer, password, cnonce_text, invite_again)
            elif answer != "OK":
                raise PushFailed(f"unexpected answer to the invitation: {answer[:40]!r}")
        try:
            reader, writer = await asyncio.wait_for(connected, _CONNECT_WAIT_S)
        except TimeoutError:
            raise PushFailed(f"{address} accepted the invitation but never connected back") from None
        try:
            await _transfer(reader, writer, image, progress)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
    finally:
        server.close()
        await server.wait_closed()
    return PushResult(address, port, len(image), md5, scheme is not None, scheme)


async def _authenticate(
    udp: _Udp, answer: str, password: str | None, cnonce_text: str, invite_again: Callable[[], Awaitable[str | None]]
) -> str:
    """Answer the station's challenge as espota.py does; return the scheme that passed or raise PushFailed.

    A station that refused a password is idle again: `invite_again` gets a fresh challenge from it.
    """
    if not password:
        raise PushFailed("the station asks for its OTA password and none was given")
    nonce = _nonce(answer)
    # The nonce's length tells the generation (tools/espota.py: 32 for MD5, 64 for PBKDF2-HMAC-SHA256).
    if len(nonce) == 32:
        verdict = await _answer(udp, *_md5_response(password, nonce, cnonce_text))
        if verdict != "OK":
            raise PushFailed(f"the station refused the OTA password ({verdict}; checked by {MD5_SCHEME})")
        return MD5_SCHEME
    verdict = await _answer(udp, *await _pbkdf2_response(_sha256(password), nonce, cnonce_text))
    if verdict == "OK":
        return PBKDF2_SCHEME
    # A sketch built with 3.3.1 or later may still keep an MD5 hash (setPasswordHash): espota.py then invites
    # the station once more and derives the key from the password's MD5 instead.
    again = await invite_again()
    if again is None or not again.startswith("AUTH"):
        raise PushFailed(f"the station refused the OTA password ({verdict}) and gave no second challenge")
    nonce = _nonce(again)
    legacy = await _answer(udp, *await _pbkdf2_response(_md5(password), nonce, cnonce_text))
    if legacy != "OK":
        tried = f"{PBKDF2_SCHEME} over the password's SHA-256, then its MD5"
        raise PushFailed(f"the station refused the OTA password ({legacy}; tried {tried})")
    return LEGACY_SCHEME


def _nonce(answer: str) -> str:
    parts = answer.split()
    if len(parts) != 2:
        raise PushFailed(f"malformed challenge from the station: {answer[:60]!r}")
    nonce = parts[1]
    if len(nonce) not in (32, 64):
        raise PushFailed(
            f"the station sent a challenge of {len(nonce)} hex digits: neither MD5 (32) nor PBKDF2-HMAC-SHA256 (64)"
        )
    return nonce


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _md5_response(password: str, nonce: str, cnonce_text: str) -> tuple[str, str]:
    """(cnonce, response) of the MD5 challenge: MD5 of "<password's MD5>:<nonce>:<cnonce>"."""
    cnonce = _md5(cnonce_text)
    return cnonce, _md5(f"{_md5(password)}:{nonce}:{cnonce}")


async def _pbkdf2_response(kept: str, nonce: str, cnonce_text: str) -> tuple[str, str]:
    """(cnonce, response) of the PBKDF2 challenge, from the hash of the password the station keeps.

    key = PBKDF2-HMAC-SHA256(kept, "<nonce>:<cnonce>", 10,000 iterations); response = SHA-256 of
    "<key in hex>:<nonce>:<cnonce>" (tools/espota.py, `authenticate`).
    """
    cnonce = _sha256(cnonce_text)
    salt = f"{nonce}:{cnonce}".encode()
    # 10,000 rounds take tens of milliseconds on a Pi: not on the loop that answers stations.
    key = await asyncio.to_thread(hashlib.pbkdf2_hmac, "sha256", kept.encode(), salt, _PBKDF2_ITERATIONS)
    return cnonce, _sha256(f"{key.hex()}:{nonce}:{cnonce}")


async def _answer(udp: _Udp, cnonce: str, response: str) -> str:
    """Send our cnonce and response to the challenge; the station's verdict ("OK" or why not)."""
    verdict = await udp.ask(f"{COMMAND_AUTH} {cnonce} {response}\n", tries=1, wait_s=_AUTH_WAIT_S)
    if verdict is None:
        raise PushFailed("the station did not answer the authentication")
    return verdict.strip()[:60]


async def _transfer(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, image: bytes, progress: Progress | None
) -> None:
    sent = 0
    last_answer = ""
    try:
        while sent < len(image):
            chunk = image[sent : sent + _CHUNK]
            writer.write(chunk)
            await writer.drain()
            sent += len(chunk)
            # The station acknowledges each chunk with the count it wrote (and "OK" once it is done).
            last_answer = (await asyncio.wait_for(reader.read(32), _ACK_WAIT_S)).decode("ascii", "replace")
            if not last_answer:
                raise PushFailed(f"the station closed the connection after {sent:,} of {len(image):,} bytes")
            if progress is not None:
                progress(sent, len(image))
        deadline = asyncio.get_running_loop().time() + _RESULT_WAIT_S
        while "OK" not in last_answer:
            left = deadline - asyncio.get_running_loop().time()
            data = await asyncio.wait_for(reader.read(64), max(left, 0.001))
            if not data:
                said = last_answer.strip(" 0123456789")  # what is left after the byte counts is its error
                raise PushFailed(f"the station did not confirm the update: {said[:120] or 'no reason given'}")
            last_answer += data.decode("ascii", "replace")
    except TimeoutError:
        raise PushFailed(f"the station stopped answering after {sent:,} of {len(image):,} bytes") from None
    except ConnectionError as exc:
        raise PushFailed(f"the connection broke after {sent:,} of {len(image):,} bytes ({exc})") from None


class _Udp(asyncio.DatagramProtocol):
    """A UDP exchange with one station: send a line, wait for its one-line answer."""

    def __init__(self, address: str, port: int) -> None:
        self._target = (address, port)
        self._answers: asyncio.Queue[str] = asyncio.Queue()
        self._transport: asyncio.DatagramTransport | None = None

    async def __aenter__(self) -> _Udp:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(lambda: self, remote_addr=self._target)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._transport is not None:
            self._transport.close()

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self._answers.put_nowait(data.decode("ascii", "replace").strip())

    def error_received(self, exc: Exception) -> None:
        log.debug("espota: %s", exc)  # an ICMP "port unreachable" while the station is not listening yet

    async def ask(self, message: str, *, tries: int, wait_s: float) -> str | None:
        assert self._transport is not None
        for _ in range(tries):
            self._transport.sendto(message.encode())
            try:
                return await asyncio.wait_for(self._answers.get(), wait_s)
            except TimeoutError:
                continue
        return None
