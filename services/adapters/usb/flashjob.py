"""Flash a station over USB: firmware and its config, verified, registered only then, reset, awaited."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from services.adapters.usb.board import Job, PortBoard
from services.adapters.usb.bootloader import BootloaderFailed, FlashSession, Region
from services.adapters.usb.model import PortJob, PreparedStation
from services.core.errors import StationmasterError
from services.core.eventbus import GAP, Subscription
from services.core.models import FirmwareImage
from services.store.journal import EventLog

# How the bar divides a flash: connecting, then writing (by bytes), verifying, registering, resetting.
_CONNECTED, _WRITTEN, _VERIFIED, _REGISTERED = 4, 92, 96, 98


class Provisioning(Protocol):
    """The onboarding domain's side: record a prepared station once it is on the chip."""

    async def commit(self, prepared: PreparedStation, mac: str, entry: EventLog) -> None:
        """Record the station (accepted, its token) inside the caller's transaction."""


@dataclass(frozen=True, slots=True)
class FlashOrder:
    """What the admin asked for, checked and made ready."""

    prepared: PreparedStation
    image: FirmwareImage
    app: bytes
    expected_mac: str | None  # the chip identified on the port, if any: a swapped board is refused

    @property
    def firmware(self) -> str:
        """The image in words."""
        image = self.image
        return " ".join(v for v in (image.project, image.version) if v) or image.sha256[:12]

    def regions(self) -> list[Region]:
        """What is written, in order: the firmware first, so that a write cut short never leaves a token behind."""
        app = Region(self.prepared.app_offset, self.app, "firmware")
        return [app, *sorted(self.prepared.config, key=lambda r: r.offset)]


def flash_job(board: PortBoard, path: str, order: FlashOrder, provisioning: Provisioning) -> Job:
    """The job that flashes `order` onto the chip at `path`."""
    return _FlashRun(board, path, order, provisioning).run


class _FlashRun:
    def __init__(self, board: PortBoard, path: str, order: FlashOrder, provisioning: Provisioning) -> None:
        self.board, self.path, self.order, self.provisioning = board, path, order, provisioning
        self.name = order.prepared.name
        self.percent = 0
        self.session = FlashSession(path, _ProgressSink(self))
        self.region: Region | None = None
        self.written = 0
        self.total = sum(len(r.data) for r in order.regions())
        self.loop: asyncio.AbstractEventLoop | None = None

    async def run(self) -> None:
        board, order = self.board, self.order
        self.loop = asyncio.get_running_loop()
        now = board.journal.clock()
        job = PortJob("flash", self.name, order.firmware, "connecting", 0, now)
        port = board.update(self.path, phase="flashing", message=f"{self.name}: connecting", job=job)
        await board.record(
            "usb_flash_started",
            port,
            f"flashing {self.name} ({order.firmware}, {order.image.chip}) on {port.name}",
            station=self.name,
            sha256=order.image.sha256,
        )
        board.hold(self.path, self.session)
        try:
            mac = await self._write_and_verify()
        except BootloaderFailed as exc:
            self.session.close()
            await self._fail(exc.message)
            return
        self._step("registering", _REGISTERED)
        try:
            await board.journal.write(lambda entry: self._register(entry, mac))
        except StationmasterError as exc:
            self.session.close()
            await self._fail(f"flashed and verified, but not registered: {exc.message}; flash it again")
            return
        await self._reset_and_wait(mac)

    async def _write_and_verify(self) -> str:
        info = await asyncio.to_thread(self.session.connect)
        if info.chip != self.order.image.chip:
            raise _Refused(f"the chip on the port is {info.description}, the firmware is for {self.order.image.chip}")
        if self.order.expected_mac and info.mac != self.order.expected_mac:
            raise _Refused(f"another chip is on the port now ({info.mac}, not {self.order.expected_mac}): identify it")
        # What answered Improv before is being replaced: the port now holds this chip and, soon, this firmware.
        self.board.update(
            self.path,
            mac=info.mac,
            chip=info.chip,
            chip_description=info.description,
            improv_state=None,
            improv_firmware=None,
            improv_device=None,
            urls=(),
        )
        self._step("connected", _CONNECTED)
        for region in self.order.regions():
            self.region = region
            await asyncio.to_thread(self.session.write, region)
            self.written += len(region.data)
        self.region = None
        self._step("verifying", _WRITTEN)
        await asyncio.to_thread(self.session.verify, self.order.regions())
        self._step("verified", _VERIFIED)
        return info.mac

    async def _register(self, entry: EventLog, mac: str) -> None:
        await self.provisioning.commit(self.order.prepared, mac, entry)
        await entry(
            "usb_flash_finished",
            mac,
            f"{self.name} flashed with {self.order.firmware} over {self.board.get(self.path).name}, verified and"
            " registered: waiting for its first check-in",
            port=self.path,
            port_name=self.board.get(self.path).name,
            station=self.name,
            sha256=self.order.image.sha256,
        )

    async def _reset_and_wait(self, mac: str) -> None:
        board = self.board
        # Subscribe before the reset: a quick station must not check in before anyone listens.
        async with board.journal.bus.subscribe() as queue:
            since = board.journal.clock()
            note = ""
            try:
                await asyncio.to_thread(self.session.reset)
            except BootloaderFailed:
                note = " (the reset failed: press its reset button or power-cycle it)"
            finally:
                self.session.close()
            self._step("waiting for its first check-in", 100)
            waiting = f"{self.name} flashed: waiting for its first check-in{note}"
            board.update(self.path, phase="waiting", message=waiting)
            arrived = await _first_checkin(
                queue, mac, board.settings.checkin_wait_s, lambda: self._seen_since(mac, since)
            )
        port = board.get(self.path)
        assert port.job is not None
        finished = dataclasses.replace(port.job, stage="done", finished_at=board.journal.clock())
        if arrived is not None:
            where = f" from {arrived['ip']}" if arrived.get("ip") else ""
            board.update(self.path, phase="arrived", message=f"{self.name} arrived (checked in{where})", job=finished)
        else:
            board.update(
                self.path,
                phase="flashed",
                message=f"{self.name} is flashed and registered but has not checked in within"
                f" {board.settings.checkin_wait_s:g} s: is the site Wi-Fi right? It stays awaiting in the list",
                job=finished,
            )

    async def _seen_since(self, mac: str, since: float) -> dict[str, Any] | None:
        """The station as a check-in would show it, if the registry has it checking in since `since`."""
        station = await self.board.journal.registry.stations.get(mac)
        if station is None or station.last_seen_at is None or station.last_seen_at < since:
            return None
        return {"kind": "checkin", "mac": mac, "ip": station.ip}

    def _step(self, stage: str, percent: int) -> None:
        self.percent = percent
        self.board.progress(self.path, stage, percent)

    def on_progress(self, done: int, total: int) -> None:
        """From the worker thread: where esptool is in the current region."""
        region = self.region
        if region is None or total <= 0:
            return
        share = (self.written + len(region.data) * min(done, total) / total) / max(self.total, 1)
        percent = _CONNECTED + int((_WRITTEN - _CONNECTED) * share)
        if percent != self.percent and self.loop is not None:
            self.percent = percent
            self.loop.call_soon_threadsafe(self.board.progress, self.path, f"writing the {region.label}", percent)

    async def _fail(self, message: str) -> None:
        board = self.board
        port = board.get(self.path)
        text = f"{message} (at {self.percent} %)" if 0 < self.percent < 100 else message
        job = dataclasses.replace(port.job, error=text, finished_at=board.journal.clock()) if port.job else None
        port = board.update(self.path, phase="failed", message=f"{self.name}: {text}", job=job)
        await board.record(
            "usb_flash_failed", port, f"flashing {self.name} on {port.name} failed: {text}", station=self.name
        )


class _Refused(BootloaderFailed):
    """The chip on the port is not the one the order is for."""


class _ProgressSink:
    def __init__(self, run: _FlashRun) -> None:
        self._run = run

    def line(self, text: str) -> None:
        pass  # esptool's narration: the stages and the bar say it better to an admin on 3G

    def progress(self, done: int, total: int) -> None:
        self._run.on_progress(done, total)


async def _first_checkin(
    queue: Subscription, mac: str, within_s: float, seen: Callable[[], Awaitable[dict[str, Any] | None]]
) -> dict[str, Any] | None:
    """The first check-in from `mac` within `within_s`, or None; `seen` asks the registry after a stream gap."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while (left := deadline - loop.time()) > 0:
        try:
            message = await asyncio.wait_for(queue.get(), left)
        except TimeoutError:
            return None
        if not message:
            return None  # the service is stopping
        if message.get("kind") == "checkin" and message.get("mac") == mac:
            return message
        if message.get("kind") == GAP and (found := await seen()) is not None:
            return found  # its check-in may be among the messages the stream dropped: the registry knows
    return None
