"""Talk to a chip's ROM bootloader with esptool's own code: identify it, write and verify flash, reset it.

Everything here is synchronous and meant for a worker thread; each call routes esptool's output to the
sink of the job that made it.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, TypeVar

import serial

from services.adapters.usb.esplog import EsptoolDied, EsptoolSink, routed_to
from services.core.chips import parse_chip
from services.core.errors import DeviceFailed, InvalidInput
from services.core.macaddr import parse_mac

PROBE_ATTEMPTS = 4  # esptool cycles its reset strategies over attempts: four tries each once
FLASH_ATTEMPTS = 7  # esptool's own default
T = TypeVar("T")


class BootloaderFailed(DeviceFailed):
    """The chip did not do what was asked; the message says what and, if the port went away, says so."""


@dataclass(frozen=True, slots=True)
class ChipInfo:
    """What the ROM bootloader told esptool about the chip."""

    chip: str  # the contract's name: esp32, esp32c3, esp8266, ...
    description: str  # esptool's, e.g. "ESP32-C3 (QFN32) (revision v0.4)"
    mac: str
    features: tuple[str, ...]
    flash_size: str | None


@dataclass(frozen=True, slots=True)
class Region:
    """Bytes to be written at a flash offset; `label` names them for people ("firmware", "config")."""

    offset: int
    data: bytes
    label: str


class _Quiet:
    def line(self, text: str) -> None:
        pass

    def progress(self, done: int, total: int) -> None:
        pass


def probe(path: str, sink: EsptoolSink | None = None, attempts: int = PROBE_ATTEMPTS) -> ChipInfo:
    """Reset the chip into its bootloader, read what it is, then reset it back into its firmware."""
    with FlashSession(path, sink, attempts=attempts) as session:
        info = session.connect(stub=False)
        session.reset()
    return info


class FlashSession:
    """One connection to one chip through esptool: connect, write, verify, reset, close.

    esptool (and the rich console library it brings) is imported when a chip is first talked to: `serve`
    runs for months on a Pi Zero without a board ever being plugged in, and they cost it 15 MiB.
    """

    def __init__(self, path: str, sink: EsptoolSink | None = None, attempts: int = FLASH_ATTEMPTS) -> None:
        self.path = path
        self._sink = sink or _Quiet()
        self._attempts = attempts
        self._esp: Any = None
        self._closing = threading.Lock()

    def __enter__(self) -> FlashSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self, *, stub: bool = True) -> ChipInfo:
        """Sync with the ROM bootloader, identify the chip and (with `stub`) start esptool's flasher stub."""

        def run() -> ChipInfo:
            from esptool.cmds import attach_flash, detect_chip, detect_flash_size, run_stub

            esp = detect_chip(self.path, connect_attempts=self._attempts)
            self._esp = esp
            mac = parse_mac(":".join(f"{b:02X}" for b in esp.read_mac()))
            try:
                chip = parse_chip(esp.CHIP_NAME)
            except InvalidInput:
                raise BootloaderFailed(f"{esp.CHIP_NAME} is not a chip Stationmaster looks after") from None
            description = esp.get_chip_description()
            features = tuple(esp.get_chip_features())
            if stub:
                self._esp = esp = run_stub(esp)
            attach_flash(esp)
            return ChipInfo(chip, description, mac, features, detect_flash_size(esp))

        return self._run("connecting to the bootloader", run)

    def write(self, region: Region) -> None:
        """Write one region; esptool checks it afterwards against the chip's own MD5 of the flash."""
        from esptool.cmds import write_flash

        self._run(f"writing the {region.label}", lambda: write_flash(self._require(), [(region.offset, region.data)]))

    def verify(self, regions: list[Region]) -> None:
        """Compare what the flash holds now with what was written, region by region."""
        from esptool.cmds import verify_flash

        self._run("verifying", lambda: verify_flash(self._require(), [(r.offset, r.data) for r in regions]))

    def reset(self) -> None:
        """Pulse EN so the chip leaves the bootloader and runs its firmware."""
        from esptool.cmds import reset_chip

        self._run("resetting the chip", lambda: reset_chip(self._require(), "hard-reset"))

    def abort(self) -> None:
        """Close the port under a running step (from another thread), so that it fails at once."""
        self.close()

    def close(self) -> None:
        """Release the port (once: the worker and the event loop may both ask)."""
        with self._closing:
            esp, self._esp = self._esp, None
        port = getattr(esp, "_port", None)
        if port is not None:
            with suppress(OSError, serial.SerialException):
                port.close()

    def _require(self) -> Any:
        if self._esp is None:
            raise BootloaderFailed(f"the connection to {self.path} was closed")
        return self._esp

    def _run(self, doing: str, step: Callable[[], T]) -> T:
        with routed_to(self._sink), self._translated(doing):
            return step()

    @contextmanager
    def _translated(self, doing: str) -> Iterator[None]:
        """Turn esptool's and pyserial's failures into one error that says what was going on."""
        from esptool.util import FatalError

        try:
            yield
        except BootloaderFailed:
            raise
        except (FatalError, EsptoolDied, serial.SerialException, OSError, AttributeError, TypeError) as exc:
            # AttributeError and TypeError: esptool reading from a port that was closed under it.
            if not os.path.exists(self.path):
                raise BootloaderFailed(f"{self.path} went away while {doing} (unplugged?)") from None
            if self._esp is None and doing != "connecting to the bootloader":
                raise BootloaderFailed(f"{doing} was stopped: the service is shutting down") from None
            text = " ".join(str(exc).split()) or type(exc).__name__
            raise BootloaderFailed(f"{doing} on {self.path} failed: {text[:300]}") from None


def md5_hex(data: bytes) -> str:
    """The MD5 esptool compares flash contents with."""
    return hashlib.md5(data).hexdigest()
