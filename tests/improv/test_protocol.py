"""Improv packets byte for byte, as the spec draws them, and picked out of a noisy serial stream."""

from __future__ import annotations

import pytest

from services.adapters.improv import protocol
from services.adapters.improv.protocol import Command, PacketReader, PacketType
from services.core.errors import InvalidInput
from tests.improv.station import frame, result


def test_the_state_request_is_the_spec_s_bytes() -> None:
    # Worked by hand from the spec's table: "IMPROV", version 1, type 3 (RPC), length 2, command 2
    # (current state), 0 data bytes, checksum = (73+77+80+82+79+86+1+3+2+2+0) mod 256 = 0xE5.
    assert protocol.rpc_command(Command.GET_CURRENT_STATE) == bytes.fromhex("494d50524f56 01 03 02 02 00 e5")


def test_wifi_settings_carry_each_field_with_its_length() -> None:
    packet = protocol.wifi_settings("AP1", "secret99")
    assert packet[:9] == b"IMPROV\x01\x03" + bytes([2 + 1 + 3 + 1 + 8])
    assert packet[9:-1] == b"\x01\x0d\x03AP1\x08secret99"
    assert packet[-1] == sum(packet[:-1]) % 256


@pytest.mark.parametrize(
    ("ssid", "psk", "problem"),
    [("", "x" * 8, "SSID is 1 to 32"), ("s" * 33, "x" * 8, "SSID is 1 to 32"), ("AP1", "p" * 65, "at most 64")],
)
def test_fields_the_packet_cannot_carry_are_refused(ssid: str, psk: str, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        protocol.wifi_settings(ssid, psk)


def test_the_reader_finds_packets_among_boot_logs_and_split_reads() -> None:
    stream = b"ets Jun  8 2016 00:22:57\r\nIMPRO" + frame(0x01, b"\x02")[5:] + b"[D][wifi]: scanning\r\n"
    stream += result(0x03, "ESPHome", "2024.6.1", "ESP32", "node")
    reader = PacketReader()
    found = [p for i in range(0, len(stream), 7) for p in reader.feed(stream[i : i + 7])]
    assert [(p.type, p.data) for p in found] == [
        (PacketType.CURRENT_STATE, b"\x02"),
        (PacketType.RPC_RESULT, b"\x03\x1c\x07ESPHome\x082024.6.1\x05ESP32\x04node\x00"),
    ]
    assert protocol.rpc_result_fields(found[1].data) == (3, ["ESPHome", "2024.6.1", "ESP32", "node"])


def test_an_rpc_result_is_read_to_its_stated_length_and_what_follows_is_ignored() -> None:
    # sdk-cpp 1.2.4's build_rpc_response, called without checksum as ESPHome does, leaves a 0x00 after the
    # strings: 0x03 (device info), 0x09 bytes of strings, then the 0x00.
    assert protocol.rpc_result_fields(b"\x03\x09\x03abc\x04defg\x00") == (3, ["abc", "defg"])
    assert protocol.rpc_result_fields(b"\x01\x00\x00") == (1, [])  # provisioned, no URL to give
    assert protocol.rpc_result_fields(b"\x02\x05\x04http") == (2, ["http"])  # exact, as the spec draws it
    with pytest.raises(ValueError, match="says 9 bytes follow, 4 do"):
        protocol.rpc_result_fields(b"\x03\x09\x03abc")
    with pytest.raises(ValueError, match="runs past"):
        protocol.rpc_result_fields(b"\x03\x04\x07abc\x00")


def test_a_corrupt_packet_is_skipped_and_the_next_one_kept() -> None:
    good = frame(0x01, b"\x04")
    corrupt = bytearray(frame(0x02, b"\x03"))
    corrupt[-2] ^= 0xFF  # the checksum (the last byte is ESPHome's newline)
    reader = PacketReader()
    found = reader.feed(bytes(corrupt) + good)
    assert [(p.type, p.data) for p in found] == [(PacketType.CURRENT_STATE, b"\x04")]
    assert reader.bad_checksums == 1


def test_another_version_is_not_taken_for_improv_1() -> None:
    other = bytearray(frame(0x01, b"\x02"))
    other[6] = 2
    other[-2] = sum(other[:-2]) % 256
    assert PacketReader().feed(bytes(other)) == []


def test_error_codes_read_as_words_with_their_code() -> None:
    assert protocol.error_words(0x03) == (
        "it could not connect to the network: a wrong password, or the network out of reach"
        " (unable to connect) [Improv error 0x03]"
    )
    assert protocol.error_words(0x05) == (
        "it did not accept the hostname it was given (bad hostname) [Improv error 0x05]"
    )
    assert "[Improv error 0x42]" in protocol.error_words(0x42)
    assert protocol.state_words(0x02) == "ready for Wi-Fi credentials"
