"""A station's side of Improv serial on a pseudo-terminal, written from the spec (improv-wifi.com/serial).

It is built apart from services.improv on purpose: it frames packets with struct from the spec's byte table,
answers as ESPHome's improv_serial component does (a newline after every packet, the state before the URL,
"unable to connect" then back to "ready" on a wrong password), and can print boot noise, go silent or
stop answering after the credentials, so the appliance's client is tested against behaviour, not itself.
"""

from __future__ import annotations

import os
import select
import struct
import threading
import tty
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

# The spec's table: bytes 1-6 "IMPROV", 7 version, 8 type, 9 length, 10.. data, then the checksum.
_PREFIX = struct.Struct("6sBBB")
STATE, ERROR, RPC, RESULT = 0x01, 0x02, 0x03, 0x04
READY, PROVISIONING, PROVISIONED = 0x02, 0x03, 0x04
SEND_WIFI, CURRENT_STATE, DEVICE_INFO = 0x01, 0x02, 0x03
UNABLE_TO_CONNECT, UNKNOWN_RPC, INVALID_RPC = 0x03, 0x02, 0x01


@dataclass
class ImprovStation:
    """What the station knows and how it behaves."""

    networks: dict[str, str] = field(default_factory=dict)  # the SSIDs in reach and their passwords
    url: str = "http://10.0.0.42"
    firmware: tuple[str, str, str, str] = ("ESPHome", "2024.6.1", "ESP32-C3", "kitchen-light")
    silent: bool = False  # no Improv at all (another firmware, or a dead board)
    mute_after_settings: bool = False  # takes the credentials and is never heard from again
    boot_noise: bytes = b"rst:0x1 (POWERON_USB),boot:0xd (SPI_FAST_FLASH_BOOT)\r\n[I][app:029]: Running...\r\n"
    state: int = READY
    received: list[tuple[int, bytes]] = field(default_factory=list)  # every RPC: (command, raw data)
    bad_packets: int = 0


def frame(kind: int, data: bytes) -> bytes:
    """One packet as the spec draws it, with ESPHome's trailing newline."""
    head = _PREFIX.pack(b"IMPROV", 1, kind, len(data))
    return head + data + bytes([sum(head + data) % 256]) + b"\n"


def result(command: int, *strings: str) -> bytes:
    """An RPC result: command, length, then each string as its length and its bytes."""
    body = b"".join(struct.pack("B", len(s.encode())) + s.encode() for s in strings)
    return frame(RESULT, struct.pack("BB", command, len(body)) + body)


class PtyStation:
    """Run an ImprovStation on the far side of a pty; `path` is what the appliance opens."""

    def __init__(self, station: ImprovStation, link: Path | None = None) -> None:
        self.station = station
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # a USB serial port has no line discipline: no echo, no line buffering
        self.device = os.ttyname(self._slave)
        self.path = self.device
        if link is not None:
            link.symlink_to(self.device)
            self.path = str(link)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="improv-station", daemon=True)
        self._buffer = bytearray()

    def start(self) -> PtyStation:
        """Start answering (after the boot noise a real board prints when the port opens)."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering and close the pty."""
        self._stop.set()
        self._thread.join(timeout=5)
        os.close(self._master)
        os.close(self._slave)

    def _serve(self) -> None:
        if not self.station.silent and self.station.boot_noise:
            os.write(self._master, self.station.boot_noise)
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self._master, 1024)
            except OSError:
                return
            if self.station.silent:
                continue
            self._buffer += data
            for kind, body in self._take_packets():
                if kind == RPC:
                    self._answer(body)

    def _take_packets(self) -> Iterator[tuple[int, bytes]]:
        while True:
            start = self._buffer.find(b"IMPROV")
            if start < 0 or len(self._buffer) < start + _PREFIX.size:
                return
            del self._buffer[:start]
            _, version, kind, length = _PREFIX.unpack_from(self._buffer)
            if len(self._buffer) < _PREFIX.size + length + 1:
                return
            packet = bytes(self._buffer[: _PREFIX.size + length + 1])
            del self._buffer[: len(packet)]
            if version != 1 or sum(packet[:-1]) % 256 != packet[-1]:
                self.station.bad_packets += 1
                self._send(frame(ERROR, bytes([INVALID_RPC])))
                continue
            yield kind, packet[_PREFIX.size : -1]

    def _answer(self, body: bytes) -> None:
        station = self.station
        command, length = body[0], body[1]
        station.received.append((command, body))
        if length != len(body) - 2:
            self._send(frame(ERROR, bytes([INVALID_RPC])))
        elif command == CURRENT_STATE:
            self._send(frame(STATE, bytes([station.state])))
            if station.state == PROVISIONED:
                self._send(result(CURRENT_STATE, station.url))
        elif command == DEVICE_INFO:
            self._send(result(DEVICE_INFO, *station.firmware))
        elif command == SEND_WIFI:
            ssid_len = body[2]
            ssid = body[3 : 3 + ssid_len].decode()
            psk_len = body[3 + ssid_len]
            psk = body[4 + ssid_len : 4 + ssid_len + psk_len].decode()
            if station.mute_after_settings:
                return
            station.state = PROVISIONING
            self._send(frame(STATE, bytes([PROVISIONING])))
            if station.networks.get(ssid) == psk:
                station.state = PROVISIONED
                self._send(frame(STATE, bytes([PROVISIONED])))
                self._send(result(SEND_WIFI, station.url))
            else:
                station.state = READY
                self._send(frame(ERROR, bytes([UNABLE_TO_CONNECT])))
                self._send(frame(STATE, bytes([READY])))
        else:
            self._send(frame(ERROR, bytes([UNKNOWN_RPC])))

    def _send(self, data: bytes) -> None:
        os.write(self._master, data)


@contextmanager
def improv_station(station: ImprovStation, link: Path | None = None) -> Iterator[PtyStation]:
    """An Improv station on a pty for the duration of the block."""
    running = PtyStation(station, link).start()
    try:
        yield running
    finally:
        running.stop()
