"""The ESPHome stand-in keeps the device's quirks: checked with raw bytes, without the appliance's client."""

from __future__ import annotations

import os
import select
import time

from services.adapters.improv import protocol
from services.adapters.improv.protocol import Command, PacketReader, PacketType
from tests.improv.station import CURRENT_STATE, DEVICE_INFO, ImprovStation, improv_station, result


def test_an_rpc_result_has_esphome_s_bytes() -> None:
    # build_rpc_response(GET_DEVICE_INFO, {"ab", "c"}, false) is 03 05 02 'a' 'b' 01 'c' 00; send_response_ puts
    # it after "IMPROV" 01 04 and its size (8), then the checksum and write_data_'s newline.
    body = b"\x03\x05\x02ab\x01c\x00"
    head = b"IMPROV\x01\x04\x08"
    assert result(0x03, "ab", "c") == head + body + bytes([sum(head + body) % 256]) + b"\n"


def answers(fd: int, until: float) -> list[tuple[int, bytes]]:
    """Every packet read from `fd` until the monotonic time `until`."""
    reader = PacketReader()
    found: list[tuple[int, bytes]] = []
    while (left := until - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            found += [(p.type, p.data) for p in reader.feed(os.read(fd, 1024))]
    return found


def test_a_packet_sent_within_100_ms_of_the_last_one_is_lost_unless_a_byte_goes_first() -> None:
    ask_state = protocol.rpc_command(Command.GET_CURRENT_STATE)
    ask_info = protocol.rpc_command(Command.GET_DEVICE_INFO)
    station = ImprovStation()
    with improv_station(station) as running:
        fd = os.open(running.path, os.O_RDWR | os.O_NOCTTY)
        try:
            os.write(fd, ask_state + ask_info)  # back to back: the second one's "I" lands past the first's end
            first = answers(fd, time.monotonic() + 0.5)
            os.write(fd, ask_state + b"\n" + ask_info + b"\n")  # the newline is what the rule throws away
            second = answers(fd, time.monotonic() + 0.5)
        finally:
            os.close(fd)
    assert [kind for kind, _ in first] == [PacketType.CURRENT_STATE]
    assert [kind for kind, _ in second] == [PacketType.CURRENT_STATE, PacketType.RPC_RESULT]
    assert [command for command, _ in station.received] == [CURRENT_STATE, CURRENT_STATE, DEVICE_INFO]


def test_a_malformed_rpc_is_called_unknown_and_a_bad_checksum_invalid() -> None:
    lying = protocol.encode(PacketType.RPC_COMMAND, b"\x03\x05")  # says 5 bytes follow, none do
    corrupt = bytearray(protocol.rpc_command(Command.GET_DEVICE_INFO))
    corrupt[-1] ^= 0xFF
    with improv_station(ImprovStation()) as running:
        fd = os.open(running.path, os.O_RDWR | os.O_NOCTTY)
        try:
            os.write(fd, lying + b"\n")
            unknown = answers(fd, time.monotonic() + 0.3)
            os.write(fd, bytes(corrupt) + b"\n")
            invalid = answers(fd, time.monotonic() + 0.3)
        finally:
            os.close(fd)
    assert unknown == [(PacketType.ERROR_STATE, b"\x02")]
    assert invalid == [(PacketType.ERROR_STATE, b"\x01")]
