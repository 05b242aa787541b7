"""Hand the site Wi-Fi to a station over Improv serial, and read back where it can be reached."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

import serial

from services.adapters.improv import ImprovClient, ImprovFailed, ProvisionResult, state_words
from services.adapters.improv.protocol import ImprovState
from services.adapters.usb.board import Job, PortBoard
from services.adapters.usb.identify import cannot_open
from services.adapters.usb.model import PortJob
from services.adapters.usb.ports import quiet_port

_STAGE_PERCENT: dict[int, int] = {ImprovState.PROVISIONING: 50, ImprovState.PROVISIONED: 100}


def improv_job(board: PortBoard, path: str, ssid: str, psk: str) -> Job:
    """The job that sends network `ssid` to the Improv station at `path`."""

    async def run() -> None:
        loop = asyncio.get_running_loop()
        port = board.get(path)
        who = port.improv_device or port.name
        job = PortJob("improv", who, ssid, "sending the Wi-Fi settings", 10, board.journal.clock())
        board.update(path, phase="joining", message=f"{who}: sending {ssid}", job=job)

        def on_state(state: int) -> None:
            loop.call_soon_threadsafe(board.progress, path, state_words(state), _STAGE_PERCENT.get(state, 10))

        link = quiet_port(path)
        board.hold(path, _Closer(link.close))
        try:
            result = await asyncio.to_thread(_provision, link, ssid, psk, board.settings.improv_timeout_s, on_state)
        except OSError as exc:
            await _failed(board, path, who, ssid, cannot_open(path, exc), None)
            return
        except ImprovFailed as exc:
            await _failed(board, path, who, ssid, exc.message, exc.improv_code)
            return
        port = board.get(path)
        assert port.job is not None
        finished = dataclasses.replace(port.job, stage="done", percent=100, finished_at=board.journal.clock())
        where = f": {', '.join(result.urls)}" if result.urls else " (it gave no address)"
        port = board.update(
            path,
            phase="joined",
            message=f"{who} joined {ssid}{where}",
            job=finished,
            improv_state=int(ImprovState.PROVISIONED),
            urls=result.urls,
        )
        await board.record(
            "improv_provisioned", port, f"{port.name}: {port.message}", ssid=ssid, urls=list(result.urls), device=who
        )

    return run


class _Closer:
    def __init__(self, close: Callable[[], None]) -> None:
        self._close = close

    def abort(self) -> None:
        self._close()


def _provision(
    link: serial.Serial, ssid: str, psk: str, timeout_s: float, on_state: Callable[[int], None]
) -> ProvisionResult:
    link.open()
    with link:
        return ImprovClient(link).provision(ssid, psk, timeout_s, on_state)


async def _failed(board: PortBoard, path: str, who: str, ssid: str, reason: str, code: int | None) -> None:
    port = board.get(path)
    job = dataclasses.replace(port.job, error=reason, finished_at=board.journal.clock()) if port.job else None
    port = board.update(path, phase="failed", message=f"{who} did not join {ssid}: {reason}", job=job)
    await board.record("improv_failed", port, f"{port.name}: {port.message}", ssid=ssid, improv_error=code)
