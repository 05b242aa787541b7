"""The Improv serial packet: "IMPROV", version 1, type, length, data, and a one-byte sum of all before it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from services.core.errors import InvalidInput

HEADER = b"IMPROV"
VERSION = 1
_PREFIX_LEN = len(HEADER) + 3  # header, version, type, length
MAX_SSID_BYTES = 32  # 802.11's limit
MAX_PSK_BYTES = 64  # WPA2: 8-63 characters of passphrase or 64 hex digits


class PacketType(IntEnum):
    """The packet types of the serial transport."""

    CURRENT_STATE = 0x01  # device to client
    ERROR_STATE = 0x02  # device to client
    RPC_COMMAND = 0x03  # client to device
    RPC_RESULT = 0x04  # device to client


class Command(IntEnum):
    """RPC commands a client sends."""

    WIFI_SETTINGS = 0x01
    GET_CURRENT_STATE = 0x02
    GET_DEVICE_INFO = 0x03
    GET_WIFI_NETWORKS = 0x04


class ImprovState(IntEnum):
    """Where the device's provisioning service stands."""

    STOPPED = 0x00
    AWAITING_AUTHORIZATION = 0x01
    AUTHORIZED = 0x02
    PROVISIONING = 0x03
    PROVISIONED = 0x04


ERROR_NONE = 0x00
ERROR_INVALID_RPC = 0x01
ERROR_UNKNOWN_RPC = 0x02
ERROR_UNABLE_TO_CONNECT = 0x03
_ERROR_WORDS = {
    0x00: "no error",
    0x01: "it found the request malformed (invalid RPC packet)",
    0x02: "it does not know that command (unknown RPC command)",
    0x03: "it could not connect to the network: a wrong password, or the network out of reach (unable to connect)",
    0x04: "it wants someone to authorize it first, e.g. with a button press (not authorized)",
    0x05: "it did not accept the hostname it was given (bad hostname)",
    0xFF: "it reported an unknown error",
}
_STATE_WORDS = {
    ImprovState.STOPPED: "stopped",
    ImprovState.AWAITING_AUTHORIZATION: "waiting for someone to authorize it",
    ImprovState.AUTHORIZED: "ready for Wi-Fi credentials",
    ImprovState.PROVISIONING: "joining the network",
    ImprovState.PROVISIONED: "on the network",
}


def error_words(code: int) -> str:
    """What an Improv error code means, in words, with the code."""
    words = _ERROR_WORDS.get(code, "it reported an error this version does not know")
    return f"{words} [Improv error 0x{code:02X}]"


def state_words(state: int) -> str:
    """What an Improv state means, in words."""
    try:
        return _STATE_WORDS[ImprovState(state)]
    except ValueError:
        return f"in an unknown state 0x{state:02X}"


@dataclass(frozen=True, slots=True)
class Packet:
    """One packet, its checksum already checked."""

    type: int
    data: bytes


def encode(packet_type: int, data: bytes) -> bytes:
    """Frame `data` as one packet of `packet_type`."""
    if len(data) > 255:
        raise InvalidInput(f"an Improv packet carries at most 255 bytes, not {len(data)}")
    body = HEADER + bytes((VERSION, packet_type, len(data))) + data
    return body + bytes((sum(body) & 0xFF,))


def rpc_command(command: Command, *fields: bytes) -> bytes:
    """An RPC command packet: the command, the length of what follows, then each field as length and bytes."""
    payload = b"".join(bytes((len(field),)) + field for field in fields)
    return encode(PacketType.RPC_COMMAND, bytes((command, len(payload))) + payload)


def wifi_settings(ssid: str, psk: str) -> bytes:
    """The RPC that hands a device a network; refuses what the fields cannot carry."""
    raw_ssid, raw_psk = ssid.encode("utf-8"), psk.encode("utf-8")
    if not 0 < len(raw_ssid) <= MAX_SSID_BYTES:
        raise InvalidInput(f"an SSID is 1 to {MAX_SSID_BYTES} bytes, not {len(raw_ssid)}")
    if len(raw_psk) > MAX_PSK_BYTES:
        raise InvalidInput(f"a Wi-Fi password is at most {MAX_PSK_BYTES} bytes, not {len(raw_psk)}")
    return rpc_command(Command.WIFI_SETTINGS, raw_ssid, raw_psk)


def rpc_result_fields(data: bytes) -> tuple[int, list[str]]:
    """Split an RPC result's data into (the command it answers, its strings); raise ValueError if malformed.

    The strings are read to the length the result states; what follows is ignored: ESPHome builds results
    with improv-wifi/sdk-cpp (1.2.4), whose `build_rpc_response` leaves a 0x00 after the strings.
    """
    if len(data) < 2:
        raise ValueError("an RPC result is at least a command and a length")
    command, length = data[0], data[1]
    if length > len(data) - 2:
        raise ValueError(f"the RPC result says {length} bytes follow, {len(data) - 2} do")
    strings = data[2 : 2 + length]
    fields: list[str] = []
    at = 0
    while at < len(strings):
        end = at + 1 + strings[at]
        if end > len(strings):
            raise ValueError("an RPC result string runs past the length the result states")
        fields.append(strings[at + 1 : end].decode("utf-8", "replace"))
        at = end
    return command, fields


class PacketReader:
    """Pick packets out of a serial byte stream that also carries boot messages and logs."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.bad_checksums = 0

    def feed(self, data: bytes) -> list[Packet]:
        """Add received bytes; return every complete packet found, in order."""
        self._buffer += data
        packets: list[Packet] = []
        while True:
            start = self._buffer.find(HEADER)
            if start < 0:
                # Keep a tail that may be the start of a header split across two reads.
                del self._buffer[: max(0, len(self._buffer) - len(HEADER) + 1)]
                return packets
            del self._buffer[:start]
            if len(self._buffer) < _PREFIX_LEN:
                return packets
            length = self._buffer[_PREFIX_LEN - 1]
            end = _PREFIX_LEN + length + 1
            if self._buffer[len(HEADER)] != VERSION:
                del self._buffer[:1]  # "IMPROV" in a log line, or a version we do not speak: look further on
                continue
            if len(self._buffer) < end:
                return packets
            frame = bytes(self._buffer[:end])
            if sum(frame[:-1]) & 0xFF != frame[-1]:
                self.bad_checksums += 1
                del self._buffer[:1]
                continue
            del self._buffer[:end]
            packets.append(Packet(frame[len(HEADER) + 1], frame[_PREFIX_LEN:-1]))
