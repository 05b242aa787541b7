"""What is on a new port: firmware that speaks Improv (asked first: it resets nothing), else the ROM bootloader."""

from __future__ import annotations

import asyncio
import logging

import serial

from services.adapters.improv import ImprovClient, ImprovFailed, ImprovReport, state_words
from services.adapters.usb.board import Job, PortBoard
from services.adapters.usb.bootloader import PROBE_ATTEMPTS, BootloaderFailed, ChipInfo, FlashSession
from services.adapters.usb.ports import quiet_port

log = logging.getLogger(__name__)


def identify_job(board: PortBoard, path: str) -> Job:
    """The job that identifies the port at `path` and records what it found."""

    async def run() -> None:
        link = quiet_port(path)
        board.hold(path, _Link(link))
        try:
            report = await asyncio.to_thread(_ask_improv, link, board.settings.improv_probe_s)
        except OSError as exc:
            port = board.update(path, phase="silent", message=cannot_open(path, exc))
            await board.record("usb_port_unidentified", port, f"{port.name}: {port.message}")
            return
        if report is not None:
            await _found_improv(board, path, report)
            return
        session = FlashSession(path, _LogSink(path), attempts=PROBE_ATTEMPTS)
        board.hold(path, session)
        try:
            info = await asyncio.to_thread(_ask_bootloader, session)
        except BootloaderFailed as exc:
            port = board.update(
                path,
                phase="silent",
                message="neither Improv nor a ROM bootloader answered: hold BOOT while plugging it in, then identify"
                f" it again ({exc.message})",
            )
            await board.record("usb_port_unidentified", port, f"{port.name}: {port.message}")
            return
        await _found_chip(board, path, info)

    return run


def cannot_open(path: str, exc: OSError) -> str:
    """Why a port cannot be opened, and what to do about it."""
    text = str(exc)
    if "Permission denied" in text or getattr(exc, "errno", None) == 13:
        return f"cannot open {path}: permission denied (the service's user must be in the dialout group)"
    if "Resource temporarily unavailable" in text or "busy" in text.lower():
        return f"cannot open {path}: another program is using it"
    return f"cannot open {path}: {text}"


class _LogSink:
    def __init__(self, path: str) -> None:
        self._path = path

    def line(self, text: str) -> None:
        log.debug("esptool %s: %s", self._path, text)

    def progress(self, done: int, total: int) -> None:
        pass


class _Link:
    """The Improv probe's open port, closable from another thread when the service stops."""

    def __init__(self, port: serial.Serial) -> None:
        self.port = port

    def abort(self) -> None:
        self.port.close()


def _ask_improv(link: serial.Serial, within_s: float) -> ImprovReport | None:
    link.open()
    with link:
        try:
            return ImprovClient(link).probe(within_s)
        except (OSError, ImprovFailed):
            return None  # it went quiet or away mid-probe: the bootloader probe will say which


def _ask_bootloader(session: FlashSession) -> ChipInfo:
    with session:
        info = session.connect(stub=False)
        session.reset()  # back into its firmware: identifying must leave the board as it was
        return info


async def _found_improv(board: PortBoard, path: str, report: ImprovReport) -> None:
    device = report.device
    firmware = f"{device.firmware} {device.version}".strip() if device else None
    name = device.name if device else None
    where = f": {', '.join(report.urls)}" if report.urls else ""
    what = " ".join(v for v in (firmware, f"on {device.chip}" if device and device.chip else None) if v) or "firmware"
    port = board.update(
        path,
        phase="improv",
        message=f"{name or 'a device'} ({what}) speaks Improv: {state_words(report.state)}{where}",
        improv_state=int(report.state),
        improv_firmware=firmware,
        improv_device=name,
        urls=report.urls,
    )
    await board.record(
        "improv_detected",
        port,
        f"{port.name}: {port.message}",
        state=port.improv_state,
        firmware=firmware,
        device=name,
        urls=list(report.urls),
    )


async def _found_chip(board: PortBoard, path: str, info: ChipInfo) -> None:
    station = await board.journal.registry.stations.get(info.mac)
    who = f"; it is station {station.name} ({station.status})" if station else "; ready to flash"
    flash = f", {info.flash_size} flash" if info.flash_size else ""
    port = board.update(
        path,
        phase="ready",
        message=f"{info.description}, MAC {info.mac}{flash}{who}",
        chip=info.chip,
        chip_description=info.description,
        mac=info.mac,
        flash_size=info.flash_size,
        features=info.features,
        improv_state=None,
        improv_firmware=None,
        improv_device=None,
        urls=(),
    )
    await board.record(
        "usb_port_identified", port, f"{port.name}: {port.message}", chip=info.chip, flash_size=info.flash_size
    )
