"""USB serial ports: which of the watched paths exist now, what pyserial knows of each, and opening one."""

from __future__ import annotations

import contextlib
import glob
import os
import stat
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import serial
from serial.tools.list_ports_linux import SysFS

DEFAULT_PATTERNS = ("/dev/ttyUSB*", "/dev/ttyACM*")
# USB bridges found on ESP boards, by vendor:product, to name the board in words when pyserial cannot.
_BRIDGES = {
    (0x10C4, 0xEA60): "CP210x USB-UART bridge",
    (0x1A86, 0x7523): "CH340 USB-serial",
    (0x1A86, 0x55D4): "CH9102 USB-serial",
    (0x1A86, 0x55D3): "CH343 USB-serial",
    (0x0403, 0x6001): "FTDI FT232R",
    (0x0403, 0x6015): "FTDI FT231X",
    (0x303A, 0x1001): "Espressif USB JTAG/serial (ESP32-C3/S3/C6 native USB)",
    (0x303A, 0x0002): "Espressif USB CDC (ESP32-S2/S3 native USB)",
}


@dataclass(frozen=True, slots=True)
class SerialPort:
    """One serial device path and what the USB descriptors say about it (None when it is not USB)."""

    path: str
    name: str
    description: str
    vid: int | None
    pid: int | None
    serial_number: str | None
    manufacturer: str | None


def scan(patterns: Iterable[str]) -> dict[str, SerialPort]:
    """Return the ports matching `patterns` now, by path; two paths to one device count once (the first)."""
    found: dict[str, SerialPort] = {}
    devices: set[str] = set()
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            device = os.path.realpath(path)
            if device in devices or not _is_character_device(device):
                continue
            devices.add(device)
            found[path] = describe(path)
    return found


def describe(path: str) -> SerialPort:
    """What pyserial's sysfs reader knows of `path` (a pty or a symlink to one has no USB details)."""
    info = SysFS(path)
    bridge = _BRIDGES.get((info.vid, info.pid)) if info.vid is not None else None
    description = info.product or bridge or (info.description if info.description != "n/a" else "serial port")
    return SerialPort(
        path=path,
        name=os.path.basename(path),
        description=description,
        vid=info.vid,
        pid=info.pid,
        serial_number=info.serial_number,
        manufacturer=info.manufacturer,
    )


def open_quietly(path: str, baudrate: int = 115200, timeout: float = 0.1) -> serial.Serial:
    """Open a port without asserting DTR or RTS, which on most ESP boards would reset the chip."""
    port = quiet_port(path, baudrate, timeout)
    port.open()
    return port


class SharedPort(serial.Serial):  # type: ignore[misc]  # pyserial ships no types
    """A serial port that a job's worker thread uses and the event loop may close under it, once."""

    def __init__(self) -> None:
        self._closing = threading.Lock()
        super().__init__()

    def close(self) -> None:
        """Close once, whoever asks first: a second close must not close a file descriptor reused since."""
        with self._closing:
            if self.is_open:
                with contextlib.suppress(OSError, serial.SerialException):
                    self.cancel_read()  # wakes a worker blocked in select() on this port
                super().close()


def quiet_port(path: str, baudrate: int = 115200, timeout: float = 0.1) -> SharedPort:
    """A port set up as `open_quietly` opens it, not opened yet (so that another thread may close it)."""
    port = SharedPort()
    port.port = path
    port.baudrate = baudrate
    port.timeout = timeout
    port.dtr = False
    port.rts = False
    port.exclusive = True  # esptool, Improv and a stray terminal must not share one port
    return port


def _is_character_device(path: str) -> bool:
    try:
        return stat.S_ISCHR(os.stat(path).st_mode)
    except OSError:
        return False
