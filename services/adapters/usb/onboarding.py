"""On-site onboarding over USB: watch the ports, identify what is plugged in, flash it or hand it the Wi-Fi."""

from __future__ import annotations

from services.adapters.usb.board import PortBoard, UsbSettings
from services.adapters.usb.flashjob import FlashOrder, flash_job
from services.adapters.usb.identify import identify_job
from services.adapters.usb.improvjob import improv_job
from services.adapters.usb.model import PortJob, UsbPort
from services.adapters.usb.ports import SerialPort
from services.adapters.usb.provisioning import UsbProvisioning
from services.adapters.usb.watcher import PortWatcher
from services.core.errors import Conflict, InvalidInput, NotFound
from services.domain.firmware.library import FirmwareLibrary
from services.domain.onboarding.provisioning import ApplianceReach
from services.store.journal import Journal


class UsbOnboarding:
    """The USB road in: every admin action on a port starts here and returns at once; jobs run on."""

    def __init__(
        self, journal: Journal, library: FirmwareLibrary, provisioning: UsbProvisioning, settings: UsbSettings
    ) -> None:
        self.board = PortBoard(journal, settings)
        self._registry = journal.registry
        self._library = library
        self._provisioning = provisioning
        self._watcher = PortWatcher(settings.patterns, settings.poll_s, self._added, self._removed)

    async def start(self) -> None:
        """Look at what is plugged in, then keep watching."""
        await self._watcher.start()

    async def stop(self) -> None:
        """Stop watching and end every job."""
        await self._watcher.stop()
        await self.board.stop()

    async def rescan(self) -> None:
        """Look at the ports now rather than at the next tick."""
        await self._watcher.scan_once()

    def ports(self) -> list[UsbPort]:
        """Every port known, by name."""
        return self.board.all()

    def identify(self, ref: object) -> UsbPort:
        """Ask again what is on a port (Improv first, then the ROM bootloader)."""
        port = self._idle(ref)
        port = self.board.update(port.path, phase="identifying", message="identifying…", job=None)
        self.board.run(port.path, identify_job(self.board, port.path))
        return port

    async def flash(
        self, ref: object, name: object, firmware: object, *, reach: ApplianceReach, replace: bool = False
    ) -> UsbPort:
        """Start flashing `firmware` and a new station's config onto the chip on a port.

        `replace` lets it take the place of a station already known by that name or MAC (its token stops
        working once the new one is on the chip and recorded).
        """
        port = self._idle(ref)
        if not isinstance(firmware, str) or not firmware.strip():
            raise InvalidInput("'firmware' is required: a unique SHA-256 prefix from `stationmaster firmware list`")
        image = await self._registry.images.by_prefix(firmware.strip())
        if port.chip is not None and port.chip != image.chip:
            raise Conflict(f"{port.name} holds an {port.chip_description}; that firmware is for {image.chip}")
        if port.mac is not None:
            known = await self._registry.stations.get(port.mac)
            if known is not None and known.status == "rejected":
                raise Conflict(f"the chip on {port.name} is station {known.name}, which is rejected: accept it first")
        what = " ".join(v for v in (image.project, image.version) if v) or image.sha256[:12]
        prepared = await self._provisioning.prepare(
            name, image.chip, port.mac, reach=reach, firmware=what, replace=replace
        )
        order = FlashOrder(prepared, image, await self._library.store_bytes(image.sha256), port.mac)
        port = self._idle(port.path)  # again: the checks above awaited, another request may have started a job
        job = PortJob("flash", prepared.name, order.firmware, "starting", 0, self.board.journal.clock())
        port = self.board.update(port.path, phase="flashing", message=f"{prepared.name}: starting", job=job)
        self.board.run(port.path, flash_job(self.board, port.path, order, self._provisioning))
        return port

    async def send_wifi(self, ref: object, ssid: object = None) -> UsbPort:
        """Hand a site network (the first by priority, or `ssid`) to the Improv station on a port."""
        port = self._idle(ref)
        if not port.speaks_improv:
            raise Conflict(
                f"{port.name} did not answer Improv (it is in its bootloader or runs other firmware);"
                " identify it again once its firmware runs"
            )
        networks = await self._registry.wifi.all()  # by priority, fallbacks last
        if not networks:
            raise Conflict("the site has no Wi-Fi networks yet: add one with `stationmaster wifi add SSID`")
        if ssid is None:
            network = networks[0]
        else:
            if not isinstance(ssid, str):
                raise InvalidInput("'ssid' must be a string")
            matching = [n for n in networks if n.ssid == ssid]
            if not matching:
                names = ", ".join(n.ssid for n in networks)
                raise NotFound(f"the site has no network {ssid[:40]!r}; it has {names}")
            network = matching[0]
        port = self._idle(port.path)
        job = PortJob(
            "improv", port.improv_device or port.name, network.ssid, "starting", 0, self.board.journal.clock()
        )
        port = self.board.update(port.path, phase="joining", message=f"sending {network.ssid}", job=job)
        self.board.run(port.path, improv_job(self.board, port.path, network.ssid, network.psk))
        return port

    def _idle(self, ref: object) -> UsbPort:
        port = self.board.find(ref)
        self.board.require_idle(port)
        if not port.present:
            raise Conflict(f"{port.name} is not plugged in")
        return port

    async def _added(self, found: SerialPort) -> None:
        board = self.board
        known = board.known(found.path)
        if known is not None and (known.busy or board.has_job(found.path)):
            board.update(found.path, present=True)  # back after a reset mid-job (native USB re-enumerates)
            return
        identify = board.settings.identify
        port = UsbPort(
            path=found.path,
            name=found.name,
            description=found.description,
            vid=found.vid,
            pid=found.pid,
            serial_number=found.serial_number,
            present=True,
            phase="identifying" if identify else "new",
            message="identifying…" if identify else "not identified yet",
            updated_at=board.journal.clock(),
        )
        board.add(port)
        await board.record("usb_port_added", port, f"USB serial port {port.name} appeared ({port.description})")
        if identify:
            board.run(port.path, identify_job(board, port.path))

    async def _removed(self, path: str) -> None:
        board = self.board
        port = board.known(path)
        if port is None:
            return
        if port.busy or board.has_job(path):
            board.update(path, present=False)  # the job sees its port fail and says so
            return
        if port.phase == "failed" and port.job is not None:
            board.update(path, present=False)  # a failed job stays in view until the port comes back
            return
        await board.record("usb_port_removed", port, f"{port.name} was unplugged")
        board.forget(path)
