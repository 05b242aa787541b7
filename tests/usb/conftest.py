"""A service watching a test's own device folder, the admin's live stream, and simulated chips to plug in."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.contract.client import AdminClient
from services.root.service import StationmasterService
from tests.conftest import make_settings
from tests.usb.mockchip import MockChip

Message = dict[str, Any]


class Stream:
    """Everything the admin's event stream delivered, and a way to wait for what the admin waits to see."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._arrived = asyncio.Condition()

    async def follow(self, client: AdminClient, connected: asyncio.Event) -> None:
        async for message in client.stream_events(on_connect=connected.set):
            async with self._arrived:
                self.messages.append(message)
                self._arrived.notify_all()

    async def wait_for(self, predicate: Callable[[Message], bool], within: float = 30.0, since: int = 0) -> Message:
        """The first message (from the `since`-th on, past or future) for which `predicate` holds."""

        async def first() -> Message:
            seen = since
            async with self._arrived:
                while True:
                    for message in self.messages[seen:]:
                        if predicate(message):
                            return message
                    seen = len(self.messages)
                    await self._arrived.wait()

        try:
            return await asyncio.wait_for(first(), within)
        except TimeoutError:
            seen = "\n".join(
                f"{m.get('kind')}: {m.get('message')}" for m in self.messages if m.get("kind") != "checkin"
            )
            raise AssertionError(f"not seen within {within} s; the stream had:\n{seen}") from None

    def of(self, kind: str, port: str | None = None) -> list[Message]:
        """Every message of `kind` (about the port named `port`), in order."""
        return [m for m in self.messages if m.get("kind") == kind and (port is None or port_name(m) == port)]


def port_name(message: Message) -> str | None:
    """The port a message is about: live messages say it at the top, stored events in their data."""
    found = message.get("port_name") or (message.get("data") or {}).get("port_name")
    return None if found is None else str(found)


def about(kind: str, port: str) -> Callable[[Message], bool]:
    """A predicate: a message of `kind` about the port named `port`."""
    return lambda m: m.get("kind") == kind and port_name(m) == port


async def port_phase(admin: AdminClient, stream: Stream, name: str, wanted: str, within: float = 30.0) -> Message:
    """The port once it is in phase `wanted`, as the admin API shows it."""

    async def reached() -> Message:
        while True:
            mark = len(stream.messages)
            port = await admin.usb_port(name)
            if port["phase"] == wanted:
                return port
            changed = lambda m: m.get("kind") == "usb_port_changed" and m.get("port_name") == name  # noqa: E731
            await stream.wait_for(changed, within, since=mark)

    return await asyncio.wait_for(reached(), within)


@pytest.fixture
def devices(tmp_path: Path) -> Path:
    """The folder the service watches instead of /dev."""
    folder = tmp_path / "dev"
    folder.mkdir()
    return folder


@pytest.fixture
def usb_overrides() -> dict[str, Any]:
    """Settings a test module changes for its service (override this fixture in the module)."""
    return {}


@pytest.fixture
async def usb_service(
    tmp_path: Path, devices: Path, usb_overrides: dict[str, Any]
) -> AsyncIterator[StationmasterService]:
    """A service watching `devices` for ttyUSB* ports, briskly (a 0.1 s listing, a 0.5 s Improv question)."""
    brisk: dict[str, Any] = {"usb_poll_ms": 100, "usb_improv_probe_ms": 500, **usb_overrides}
    settings = make_settings(tmp_path, usb_ports=(str(devices / "ttyUSB*"),), **brisk)
    async with StationmasterService(settings) as running:
        yield running


@pytest.fixture
async def admin(usb_service: StationmasterService) -> AsyncIterator[AdminClient]:
    """An admin client on the service's socket."""
    async with AdminClient(usb_service.settings.admin_socket) as client:
        yield client


@pytest.fixture
async def stream(admin: AdminClient) -> AsyncIterator[Stream]:
    """The admin's live event stream, open before the test acts."""
    collected = Stream()
    connected = asyncio.Event()
    task = asyncio.create_task(collected.follow(admin, connected))
    await asyncio.wait_for(connected.wait(), 10)
    yield collected
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


@pytest.fixture
def chips(devices: Path) -> Iterator[Callable[[str, str], MockChip]]:
    """Plug in simulated chips: `chips("esp32", "ttyUSB0")`; all are unplugged at the end."""
    plugged: list[MockChip] = []

    def plug(chip: str, name: str) -> MockChip:
        mock = MockChip(chip, devices, name).plug_in()
        plugged.append(mock)
        return mock

    yield plug
    for mock in plugged:
        mock.unplug()
