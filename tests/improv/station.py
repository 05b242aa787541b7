"""An ESPHome device's side of Improv serial on a pseudo-terminal, following the device's own source.

It follows esphome/esphome `esphome/components/improv_serial/improv_serial_component.cpp` (`loop`,
`parse_improv_serial_byte_`, `parse_improv_payload_`, `set_state_`, `set_error_`, `send_response_`,
`on_wifi_connect_timeout_`; the copies read are named in docs/ota-clients.md) on the library ESPHome pins,
improv-wifi/sdk-cpp 1.2.4 `src/improv.cpp` (`parse_improv_serial_byte`, `parse_improv_data`,
`build_rpc_response`). It is built apart from services.adapters.improv on purpose and keeps the device's quirks:

- every RPC result carries one 0x00 after its strings, counted in the packet's length (`build_rpc_response`
  called without checksum reserves the checksum byte and leaves it zero);
- a complete packet stays in the receive buffer until 100 ms of silence (`IMPROV_SERIAL_TIMEOUT`); a byte
  arriving sooner lands past its end, the parser refuses it and the buffer is cleared, that byte with it;
- a malformed RPC (lengths that do not add up) is answered "unknown RPC" (0x02), a bad checksum "invalid
  RPC" (0x01);
- a wrong password is not refused at once: the device keeps trying until its Wi-Fi connect time-out (30 s,
  90 s when it was already on a network) and only then says "unable to connect" (0x03), then "ready";
- every packet it writes ends with a newline, and boot noise precedes them on the same port.

What ESPHome never does is here only as failure injection: `silent` (another firmware, a dead board),
`mute_after_settings` (a board that browns out on the credentials), `lose_once` (a request lost on the
line) and `garble_urls` (its URLs arrive with a line error).
"""

from __future__ import annotations

import os
import select
import struct
import threading
import time
import tty
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

# The spec's table: bytes 1-6 "IMPROV", 7 version, 8 type, 9 length, 10.. data, then the checksum.
_PREFIX = struct.Struct("6sBBB")
_HEADER = b"IMPROV"
STATE, ERROR, RPC, RESULT = 0x01, 0x02, 0x03, 0x04
READY, PROVISIONING, PROVISIONED = 0x02, 0x03, 0x04
UNKNOWN, SEND_WIFI, CURRENT_STATE, DEVICE_INFO, WIFI_NETWORKS = 0x00, 0x01, 0x02, 0x03, 0x04
INVALID_RPC, UNKNOWN_RPC, UNABLE_TO_CONNECT = 0x01, 0x02, 0x03
IMPROV_SERIAL_TIMEOUT_S = 0.100  # improv_serial_component.h: IMPROV_SERIAL_TIMEOUT = 100 (ms)
WIFI_CONNECT_TIMEOUT_S = 30.0  # set_timeout("wifi-connect-timeout", 30000, ...)
WIFI_SWITCH_TIMEOUT_S = 90.0  # the same time-out when the device was already connected (switching networks)
_LOOP_S = 0.016  # ESPHome's main loop runs about every 16 ms


@dataclass
class ImprovStation:
    """What the device knows and how it behaves."""

    networks: dict[str, str] = field(default_factory=dict)  # the SSIDs in reach and their passwords
    ip: str = "10.0.0.42"
    webserver_port: int | None = 80  # USE_WEBSERVER: the URL is http://<ip>:<port>; None for no web server
    next_url: str | None = None  # improv_serial's next_url, sent before the web server's URL
    firmware: tuple[str, str, str, str] = ("ESPHome", "2024.6.1", "ESP32-C3", "kitchen-light")
    join_s: float = 0.3  # how long joining a network in reach takes
    connect_timeout_s: float = WIFI_CONNECT_TIMEOUT_S  # a test may shorten the device's time-outs
    switch_timeout_s: float = WIFI_SWITCH_TIMEOUT_S
    silent: bool = False
    mute_after_settings: bool = False
    lose_once: set[int] = field(default_factory=set)  # commands whose first request never reaches the device
    garble_urls: bool = False  # the result carrying its URLs arrives with a bad checksum
    boot_noise: bytes = b"rst:0x1 (POWERON_USB),boot:0xd (SPI_FAST_FLASH_BOOT)\r\n[I][app:029]: Running...\r\n"
    state: int = READY  # a station made PROVISIONED is on a network already (`has_sta()` at setup)
    received: list[tuple[int, bytes]] = field(default_factory=list)  # every RPC parsed: (command, its data)
    bad_packets: int = 0

    def urls(self) -> list[str]:
        """What `build_rpc_settings_response_` lists: the next URL, then the web server's."""
        found = [self.next_url] if self.next_url else []
        if self.webserver_port is not None:
            found.append(f"http://{self.ip}:{self.webserver_port}")
        return found


def frame(kind: int, data: bytes) -> bytes:
    """One packet as ESPHome writes it: header, version, type, length, data, checksum, then a newline."""
    head = _PREFIX.pack(_HEADER, 1, kind, len(data))
    return head + data + bytes([sum(head + data) % 256]) + b"\n"


def rpc_response(command: int, *strings: str) -> bytes:
    """`build_rpc_response(command, strings, false)`: command, length, each string with its length, one 0x00."""
    body = b"".join(struct.pack("B", len(s.encode())) + s.encode() for s in strings)
    return struct.pack("BB", command, len(body)) + body + b"\x00"


def result(command: int, *strings: str) -> bytes:
    """An RPC result packet as `send_response_` frames it (the length counts the trailing 0x00)."""
    return frame(RESULT, rpc_response(command, *strings))


@dataclass(frozen=True, slots=True)
class _Command:
    command: int
    ssid: bytes = b""
    password: bytes = b""


def parse_improv_data(data: bytes) -> _Command:
    """sdk-cpp 1.2.4's `parse_improv_data(data, length, false)`: UNKNOWN when the lengths do not add up."""
    length = len(data)
    if length < 2 or data[1] != length - 2:  # in C, length - 2 wraps for length < 2 and never matches
        return _Command(UNKNOWN)
    command = data[0]
    if command == SEND_WIFI:
        ssid_end = 3 + data[2] if length > 2 else length + 1
        if ssid_end >= length:  # C reads data[ssid_end] (the checksum) then fails the next bound
            return _Command(UNKNOWN)
        pass_end = ssid_end + 1 + data[ssid_end]
        if pass_end > length:
            return _Command(UNKNOWN)
        return _Command(command, data[3:ssid_end], data[ssid_end + 1 : pass_end])
    return _Command(command)


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
        self._rx = bytearray()  # rx_buffer_
        self._last_read = 0.0  # last_read_byte_ (0: nothing pending)
        self._connecting: str | None = None  # connecting_sta_'s SSID
        self._joins_at: float | None = None  # when the network in reach is joined
        self._gives_up_at: float | None = None  # the "wifi-connect-timeout"
        self.provisioned = threading.Event()  # set when it reports PROVISIONED after credentials

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
            ready, _, _ = select.select([self._master], [], [], _LOOP_S)
            try:
                data = os.read(self._master, 1024) if ready else b""
            except OSError:
                return
            if not self.station.silent:
                self._loop(time.monotonic(), data)

    def _loop(self, now: float, data: bytes) -> None:
        """`ImprovSerialComponent::loop`: the 100 ms rule, then every byte read, then the Wi-Fi's progress."""
        if self._last_read and now - self._last_read > IMPROV_SERIAL_TIMEOUT_S:
            self._last_read = 0.0
            self._rx.clear()
        for byte in data:
            if self._parse_byte(byte):
                self._last_read = now
            else:
                self._last_read = 0.0
                self._rx.clear()
        station = self.station
        if station.state != PROVISIONING:
            return
        if self._joins_at is not None and now >= self._joins_at:
            self._joins_at = self._gives_up_at = None
            station.state = PROVISIONED
            self._send(frame(STATE, bytes([PROVISIONED])))
            self._send_urls(SEND_WIFI)
            self.provisioned.set()
        elif self._gives_up_at is not None and now >= self._gives_up_at:
            # on_wifi_connect_timeout_: the error, then back to "ready"
            self._gives_up_at = None
            station.state = READY
            self._send(frame(ERROR, bytes([UNABLE_TO_CONNECT])))
            self._send(frame(STATE, bytes([READY])))

    def _parse_byte(self, byte: int) -> bool:
        """`parse_improv_serial_byte` on rx_buffer_ with this byte appended at position `at`."""
        at = len(self._rx)
        self._rx.append(byte)
        if at < len(_HEADER):
            return byte == _HEADER[at]
        if at == 6:
            return byte == 1  # IMPROV_SERIAL_VERSION
        if at <= 8:
            return True
        kind, data_len = self._rx[7], self._rx[8]
        if at <= 8 + data_len:
            return True
        if at == 8 + data_len + 1:
            if sum(self._rx[:at]) & 0xFF != byte:
                self.station.bad_packets += 1
                self._send(frame(ERROR, bytes([INVALID_RPC])))
                return False
            if kind == RPC:
                return self._payload(bytes(self._rx[9:at]))
        return False

    def _payload(self, data: bytes) -> bool:
        """`parse_improv_payload_`: act on one parsed RPC; False (the buffer is cleared) for an unknown one."""
        station = self.station
        command = parse_improv_data(data)
        if command.command in station.lose_once:
            station.lose_once.discard(command.command)
            return False
        station.received.append((command.command, data))
        if command.command == SEND_WIFI:
            if station.mute_after_settings:
                station.silent = True
                return True
            switching = station.state == PROVISIONED  # is_connected(), sampled before start_connecting()
            self._connecting = command.ssid.decode("utf-8", "replace")
            station.state = PROVISIONING
            self._send(frame(STATE, bytes([PROVISIONING])))
            now = time.monotonic()
            in_reach = station.networks.get(self._connecting)
            self._joins_at = now + station.join_s if in_reach == command.password.decode("utf-8", "replace") else None
            self._gives_up_at = now + (station.switch_timeout_s if switching else station.connect_timeout_s)
            return True
        if command.command == CURRENT_STATE:
            self._send(frame(STATE, bytes([station.state])))
            if station.state == PROVISIONED:
                self._send_urls(CURRENT_STATE)
            return True
        if command.command == DEVICE_INFO:
            self._send(result(DEVICE_INFO, *station.firmware))
            return True
        if command.command == WIFI_NETWORKS:
            for ssid in station.networks:
                self._send(result(WIFI_NETWORKS, ssid, "-60", "YES"))
            self._send(result(WIFI_NETWORKS))
            return True
        self._send(frame(ERROR, bytes([UNKNOWN_RPC])))
        return False

    def _send_urls(self, command: int) -> None:
        """`build_rpc_settings_response_` answering `command`, sent as `send_response_` does."""
        packet = bytearray(result(command, *self.station.urls()))
        if self.station.garble_urls:
            packet[-2] ^= 0xFF  # the checksum (the newline follows it)
        self._send(bytes(packet))

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
