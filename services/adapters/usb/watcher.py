"""Notice serial ports appearing and going by listing the watched paths every so often."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from services.adapters.usb.ports import SerialPort, scan

log = logging.getLogger(__name__)

Added = Callable[[SerialPort], Awaitable[None]]
Removed = Callable[[str], Awaitable[None]]


class PortWatcher:
    """Call `on_added` and `on_removed` as the ports matching `patterns` come and go.

    It polls rather than listening to udev: udev says nothing of ptys or of symlinks a test makes, nor
    inside a container without it, and listing two globs of /dev once a second costs next to nothing.
    """

    def __init__(self, patterns: tuple[str, ...], interval_s: float, on_added: Added, on_removed: Removed) -> None:
        self._patterns = patterns
        self._interval_s = interval_s
        self._on_added = on_added
        self._on_removed = on_removed
        self._known: dict[str, SerialPort] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Report what is plugged in now, then keep watching."""
        await self.scan_once()
        self._task = asyncio.create_task(self._watch(), name="usb-watcher")

    async def stop(self) -> None:
        """Stop watching."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def scan_once(self) -> None:
        """Compare the ports present now with the last look and report the difference."""
        if not self._patterns:
            return
        now = await asyncio.to_thread(scan, self._patterns)
        for path, port in list(self._known.items()):
            if now.get(path) != port:  # gone, or another device at the same path since the last look
                del self._known[path]
                await self._on_removed(path)
        for path, port in now.items():
            if path not in self._known:
                self._known[path] = port
                await self._on_added(port)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.scan_once()
            except Exception:  # one bad look (a device mid-enumeration) must not end the watching
                log.exception("listing the USB serial ports failed; trying again")
