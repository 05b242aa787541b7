"""The USB ports the appliance knows, their state and their jobs: every change published, milestones stored."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from appliance.contract.events import EventKind
from services.adapters.usb.model import UsbPort
from services.adapters.usb.ports import DEFAULT_PATTERNS
from services.core.errors import Conflict, InvalidInput, NotFound
from services.store.journal import EventLog, Journal

log = logging.getLogger(__name__)

_PROGRESS_STEP = 2  # percent between live progress messages: a smooth bar, a few dozen small messages


@dataclass(frozen=True, slots=True)
class UsbSettings:
    """How ports are watched and how long jobs wait."""

    patterns: tuple[str, ...] = DEFAULT_PATTERNS
    poll_s: float = 1.0
    identify: bool = True  # identify a new port at once (Improv first, then the ROM bootloader)
    improv_probe_s: float = 3.0
    improv_timeout_s: float = 95.0  # beyond ESPHome's own 90 s when a device switches networks
    checkin_wait_s: float = 300.0


class Abortable(Protocol):
    """A blocking job step that another thread can break off (by closing its port)."""

    def abort(self) -> None:
        """Make the running step fail at once."""


Job = Callable[[], Awaitable[None]]


class PortBoard:
    """The ports and their state, shared by the jobs: every change is published, milestones are stored."""

    def __init__(self, journal: Journal, settings: UsbSettings) -> None:
        self.journal = journal
        self.settings = settings
        self._ports: dict[str, UsbPort] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._held: dict[str, Abortable] = {}
        self._reported: dict[str, tuple[str, int]] = {}

    def all(self) -> list[UsbPort]:
        """Every port, by name."""
        return sorted(self._ports.values(), key=lambda p: (p.name, p.path))

    def find(self, ref: object) -> UsbPort:
        """The port with this path, or the one port with this name (ttyUSB0); else NotFound."""
        if not isinstance(ref, str) or not ref.strip():
            raise InvalidInput("'port' is required: a path such as /dev/ttyUSB0, or its name ttyUSB0")
        ref = ref.strip()
        if ref in self._ports:
            return self._ports[ref]
        named = [p for p in self._ports.values() if p.name == ref]
        if len(named) == 1:
            return named[0]
        if named:
            raise InvalidInput(f"{ref} names {len(named)} ports: give the whole path")
        raise NotFound(f"no USB serial port {ref[:60]!r}: `stationmaster usb list` shows those plugged in")

    def get(self, path: str) -> UsbPort:
        """The port at `path` (it must be known)."""
        return self._ports[path]

    def known(self, path: str) -> UsbPort | None:
        """The port at `path`, if known."""
        return self._ports.get(path)

    def has_job(self, path: str) -> bool:
        """A job task is running on this port."""
        return path in self._tasks

    def require_idle(self, port: UsbPort) -> None:
        """Refuse to start anything on a port that has a job running."""
        if port.busy or port.path in self._tasks:
            raise Conflict(f"{port.name} is busy ({port.message}); wait until it is done")

    def add(self, port: UsbPort) -> None:
        """Know a new port."""
        self._ports[port.path] = port
        self._publish(port)

    def update(self, path: str, **changes: Any) -> UsbPort:
        """Change what is known of a port and tell live viewers."""
        port = dataclasses.replace(self._ports[path], updated_at=self.journal.clock(), **changes)
        self._ports[path] = port
        self._publish(port)
        return port

    def forget(self, path: str) -> None:
        """Drop a port that is gone."""
        self._ports.pop(path, None)
        self._reported.pop(path, None)
        name = path.rsplit("/", 1)[-1]
        self.journal.publish_live("usb_port_changed", {"port": path, "port_name": name, "gone": True})

    def progress(self, path: str, stage: str, percent: int) -> None:
        """A job moved on: update its port, and tell viewers every few percent or when the stage changes."""
        port = self._ports.get(path)
        if port is None or port.job is None:
            return
        job = dataclasses.replace(port.job, stage=stage, percent=percent)
        self._ports[path] = dataclasses.replace(port, job=job, message=f"{job.station}: {stage} {percent} %")
        last_stage, last_percent = self._reported.get(path, ("", -100))
        if stage != last_stage or percent >= last_percent + _PROGRESS_STEP or percent == 100:
            self._reported[path] = (stage, percent)
            self.journal.publish_live(
                "usb_flash_progress" if port.job.kind == "flash" else "improv_progress",
                {
                    "port": path,
                    "port_name": port.name,
                    "mac": port.mac,
                    "station": job.station,
                    "stage": stage,
                    "percent": percent,
                    "message": f"{job.station} on {port.name}: {stage} {percent} %",
                },
            )

    async def record(self, kind: EventKind, port: UsbPort, message: str, **data: Any) -> None:
        """Store an event about a port (and the station on it, if its MAC is known)."""

        async def op(entry: EventLog) -> None:
            await entry(kind, port.mac, message, port=port.path, port_name=port.name, **data)

        await self.journal.write(op)

    def run(self, path: str, job: Job) -> None:
        """Run `job` as the one job of this port; a failure it did not handle becomes a failed state."""

        async def guarded() -> None:
            try:
                await job()
            except Exception as exc:
                log.exception("USB job on %s failed unexpectedly", path)
                if path in self._ports:
                    self.update(path, phase="failed", message=f"failed unexpectedly: {exc}")
            finally:
                if self._tasks.get(path) is asyncio.current_task():  # not a job started since on this port
                    del self._tasks[path]
                    self._held.pop(path, None)
            if not self.has_job(path):
                await self._after_job(path)  # not when cancelled: the service is stopping

        self._tasks[path] = asyncio.create_task(guarded(), name=f"usb-job {path}")

    def hold(self, path: str, step: Abortable) -> None:
        """Remember what to abort on this port if the service stops mid-job."""
        self._held[path] = step

    async def stop(self) -> None:
        """Break off every job (closing their ports, so their worker threads end too) and wait for them."""
        for step in list(self._held.values()):
            step.abort()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _after_job(self, path: str) -> None:
        port = self._ports.get(path)
        if port is not None and not port.present and port.phase != "failed":
            # Unplugged once its job was done (a flashed station taken to where it lives): nothing to show.
            await self.record("usb_port_removed", port, f"{port.name} was unplugged")
            self.forget(path)

    def _publish(self, port: UsbPort) -> None:
        self.journal.publish_live("usb_port_changed", {"port": port.path, "port_name": port.name, "gone": False})
