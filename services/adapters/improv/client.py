"""The client side of Improv serial, over a borrowed serial link: ask the state, hand over Wi-Fi, read the URL."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from services.adapters.improv import protocol
from services.adapters.improv.protocol import Command, ImprovState, Packet, PacketReader, PacketType
from services.core.errors import DeviceFailed

_ASK_EVERY_S = 0.5  # a device still booting misses the first question; ask again until it answers
_AFTER_STATE_S = 1.0  # the URL follows the "provisioned" state in a separate RPC result
_INFO_TRIES = 2  # a device-info request lost on the line is asked once more
_READ_S = 0.05
# ESPHome keeps a finished packet in its receive buffer until 100 ms of silence, and a byte arriving sooner
# clears the buffer and is lost with it: a request sent right after another would lose its first byte and so
# all of it. A newline after each packet (as the Improv JS SDK sends) is the byte that gets thrown away.
_AFTER_PACKET = b"\n"


class SerialLink(Protocol):
    """What the client needs of a serial port (pyserial's Serial has it)."""

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes, /) -> int | None: ...


class ImprovFailed(DeviceFailed):
    """The device refused or never answered; `code` is its Improv error code, None when it went quiet."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.improv_code = code


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What the device says it is (the GET_DEVICE_INFO answer)."""

    firmware: str
    version: str
    chip: str
    name: str


@dataclass(frozen=True, slots=True)
class ImprovReport:
    """A device that answered Improv: its state, its URLs if provisioned, and what it is if it said."""

    state: int
    urls: tuple[str, ...]
    device: DeviceInfo | None


@dataclass(frozen=True, slots=True)
class ProvisionResult:
    """A device that joined the network, and where its own page is (if it gave one)."""

    state: int
    urls: tuple[str, ...]


class _Deadline:
    """A deadline the packet reader checks on every turn, so that shortening it takes effect at once."""

    def __init__(self, at: float) -> None:
        self.at = at

    def shorten(self, at: float) -> None:
        """Move the deadline to `at` if that is sooner."""
        self.at = min(self.at, at)


class ImprovClient:
    """Speak Improv to one device; every call is synchronous and bounded by its own deadline."""

    def __init__(self, link: SerialLink, clock: Callable[[], float] = time.monotonic) -> None:
        self._link = link
        self._clock = clock
        self._reader = PacketReader()

    def probe(self, within_s: float) -> ImprovReport | None:
        """Return the device's Improv state and identity, or None if nothing answered Improv in time."""
        deadline = _Deadline(self._clock() + within_s)
        state: int | None = None
        urls: tuple[str, ...] = ()
        self._send(protocol.rpc_command(Command.GET_CURRENT_STATE))
        asked_at = self._clock()
        for packet in self._packets(deadline):
            if state is None and self._clock() - asked_at >= _ASK_EVERY_S:
                self._send(protocol.rpc_command(Command.GET_CURRENT_STATE))
                asked_at = self._clock()
            if packet is None:
                continue
            if packet.type == PacketType.CURRENT_STATE and packet.data:
                state = packet.data[0]
                if state != ImprovState.PROVISIONED:
                    break
                deadline.shorten(self._clock() + _AFTER_STATE_S)
            elif packet.type == PacketType.RPC_RESULT and state is not None:
                command, fields = _fields(packet)
                if command == Command.GET_CURRENT_STATE:
                    urls = tuple(fields)
                    break
        if state is None:
            return None
        return ImprovReport(state, urls, self._device_info())

    def provision(
        self, ssid: str, psk: str, timeout_s: float, on_state: Callable[[int], None] | None = None
    ) -> ProvisionResult:
        """Send the network and wait until the device has joined it; raise ImprovFailed saying why not."""
        self._send(protocol.wifi_settings(ssid, psk))
        deadline = _Deadline(self._clock() + timeout_s)
        heard = False
        state: int | None = None
        for packet in self._packets(deadline):
            if packet is None:
                continue
            heard = True
            if packet.type == PacketType.CURRENT_STATE and packet.data:
                state = packet.data[0]
                if on_state is not None:
                    on_state(state)
                if state == ImprovState.PROVISIONED:
                    deadline.shorten(self._clock() + _AFTER_STATE_S)
            elif packet.type == PacketType.ERROR_STATE and packet.data and packet.data[0] != protocol.ERROR_NONE:
                code = packet.data[0]
                raise ImprovFailed(f"the station refused the Wi-Fi settings: {protocol.error_words(code)}", code)
            elif packet.type == PacketType.RPC_RESULT:
                command, fields = _fields(packet)
                if command == Command.WIFI_SETTINGS:
                    return ProvisionResult(ImprovState.PROVISIONED, tuple(fields))
        if state == ImprovState.PROVISIONED:
            return ProvisionResult(state, ())  # joined, but gave no URL: the spec makes it optional
        if not heard:
            raise ImprovFailed(f"the station never answered the Wi-Fi settings within {timeout_s:g} s")
        said = protocol.state_words(state) if state is not None else "nothing but errors cleared"
        raise ImprovFailed(f"the station had not joined the network after {timeout_s:g} s (last: {said})")

    def _device_info(self) -> DeviceInfo | None:
        for _ in range(_INFO_TRIES):
            self._send(protocol.rpc_command(Command.GET_DEVICE_INFO))
            for packet in self._packets(_Deadline(self._clock() + _AFTER_STATE_S)):
                if packet is None:
                    continue
                if packet.type == PacketType.ERROR_STATE and packet.data:
                    if packet.data[0] == protocol.ERROR_UNKNOWN_RPC:
                        return None  # an older device that does not know the command
                    if packet.data[0] == protocol.ERROR_INVALID_RPC:
                        break  # the request was damaged on the way: ask again
                if packet.type == PacketType.RPC_RESULT:
                    command, fields = _fields(packet)
                    if command == Command.GET_DEVICE_INFO and len(fields) >= 4:
                        return DeviceInfo(*fields[:4])
        return None

    def _send(self, data: bytes) -> None:
        try:
            self._link.write(data + _AFTER_PACKET)
        except OSError as exc:
            raise ImprovFailed(f"the serial port failed while writing: {exc}") from None

    def _packets(self, deadline: _Deadline) -> Iterator[Packet | None]:
        """Yield packets as they arrive (None after a quiet read, so callers can act on time) until `deadline`."""
        while self._clock() < deadline.at:
            try:
                data = self._link.read(256)
            except OSError as exc:
                raise ImprovFailed(f"the serial port went away: {exc}") from None
            found = self._reader.feed(data) if data else []
            if not data and _no_timeout(self._link):
                time.sleep(_READ_S)
            if not found:
                yield None
            yield from found


def _fields(packet: Packet) -> tuple[int, list[str]]:
    try:
        return protocol.rpc_result_fields(packet.data)
    except ValueError:
        return -1, []


def _no_timeout(link: SerialLink) -> bool:
    """A link whose read returns at once when empty (no timeout set) would spin: pace it."""
    return getattr(link, "timeout", 1) == 0
