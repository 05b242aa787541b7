"""A chip in its ROM bootloader on a pseudo-terminal: the `esp32-mock-bootloader` simulator as a child process.

The appliance sees it as a USB serial port: a symlink in the test's own device folder, named like the
ports it watches. "Unplugging" it ends the simulator (the pty hangs up under esptool) and removes the link,
which is what a pulled cable does to /dev/ttyUSB0. The simulator cannot exist as hardware here; everything
on the appliance's side of the pty is esptool's real code.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from esp32_mock_bootloader.registers import mac_bytes_for_chip
from esptool.util import FatalError

from services.adapters.usb.bootloader import BootloaderFailed, FlashSession

_START_S = 20.0


class MockChip:
    """One simulated chip behind `path` (a symlink in the watched folder)."""

    def __init__(self, chip: str, folder: Path, name: str) -> None:
        self.chip = chip
        self.path = folder / name
        self.mac = ":".join(f"{b:02X}" for b in mac_bytes_for_chip(chip))
        self._port_file = folder.parent / f"{name}.port"
        self._log = (folder.parent / f"{name}.log").open("wb")
        self.proc: subprocess.Popen[bytes] | None = None

    def plug_in(self) -> MockChip:
        """Start the simulator and make its port appear."""
        command = [sys.executable, "-m", "esp32_mock_bootloader.cli", "run", "--pty", "--chip", self.chip]
        self.proc = subprocess.Popen(
            [*command, "--port-file", str(self._port_file)], stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + _START_S
        # The simulator gives no signal but the file it writes: poll for it, within a deadline.
        while not (self._port_file.exists() and self._port_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the bootloader simulator for {self.chip} did not start")
            time.sleep(0.02)
        self.path.symlink_to(self._port_file.read_text().strip())
        return self

    def unplug(self) -> None:
        """Pull the cable: the simulator ends, its pty hangs up, the port disappears."""
        if self.path.is_symlink():
            self.path.unlink()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()

    def read_flash(self, offset: int, size: int) -> bytes:
        """Read the simulated flash back with esptool, as a bench would to check a board."""
        return bytes(self._ask(lambda esp: esp.read_flash(offset, size)))

    def flash_md5(self, offset: int, size: int) -> str:
        """The chip's own MD5 of a flash region."""
        return str(self._ask(lambda esp: esp.flash_md5sum(offset, size)))

    def _ask(self, question: Callable[[Any], Any]) -> Any:
        # The simulator ends its session 3 s after a flash ends, whatever is going on (its FLASH_END idle
        # timer): a read that straddles that moment breaks off. Ask again, at most three times.
        for attempt in range(3):
            try:
                with FlashSession(str(self.path)) as session:
                    session.connect()
                    return question(session._require())
            except BootloaderFailed:
                if attempt == 2:
                    raise
            except FatalError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def md5(data: bytes) -> str:
    """What `flash_md5` returns for `data` written in full."""
    return hashlib.md5(data).hexdigest()
