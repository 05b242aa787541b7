"""Rollouts against a real service: simulated stations over real HTTP, the admin over the real socket."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from appliance.contract.client import AdminClient
from services.simulator import Behaviour, SimulatedFleet
from tests.imagefactory import build_image

# Simulated stations check in (and poll /ota) every FAST seconds: a rollout's soak and time-outs are set
# per rollout to a few of these, so that a rollout of fifty stations runs in seconds.
FAST = 0.25
STEADY = Behaviour(signal_dbm=-60)  # a healthy station with a steady, good signal
Message = dict[str, Any]


@dataclass
class EventTap:
    """Every message of the admin event stream since the tap opened; tests await what they expect to see."""

    messages: list[Message] = field(default_factory=list)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def add(self, message: Message) -> None:
        """Keep a message and wake whoever waits."""
        async with self.arrived:
            self.messages.append(message)
            self.arrived.notify_all()

    def of(self, kind: str, **data: Any) -> list[Message]:
        """The messages of a kind whose data has these values."""
        return [
            m
            for m in self.messages
            if m.get("kind") == kind and all(m.get("data", {}).get(k) == v for k, v in data.items())
        ]

    async def wait_for(self, want: Callable[[list[Message]], bool], within: float = 30.0) -> None:
        """Wait until `want(messages)` holds (at most `within` seconds): an event, never a sleep."""

        async def wait() -> None:
            async with self.arrived:
                await self.arrived.wait_for(lambda: want(self.messages))

        await asyncio.wait_for(wait(), within)

    async def first(self, kind: str, within: float = 30.0, **data: Any) -> Message:
        """The first message of a kind (with this data), waiting for it if it has not come yet."""
        await self.wait_for(lambda _: bool(self.of(kind, **data)), within)
        return self.of(kind, **data)[0]


@contextlib.asynccontextmanager
async def open_tap(admin: AdminClient) -> AsyncIterator[EventTap]:
    """Listen to the admin event stream until the block ends (or the service goes away)."""
    found = EventTap()
    connected = asyncio.Event()

    async def listen() -> None:
        async for message in admin.stream_events(on_connect=connected.set):
            await found.add(message)

    task = asyncio.create_task(listen())
    try:
        await asyncio.wait_for(connected.wait(), 5)
        yield found
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


@pytest.fixture
async def tap(admin: AdminClient) -> AsyncIterator[EventTap]:
    """The admin event stream from now on."""
    async with open_tap(admin) as found:
        yield found


@contextlib.asynccontextmanager
async def accepted_fleet(
    url: str,
    admin: AdminClient,
    tap: EventTap,
    count: int,
    behaviours: Mapping[int, Behaviour] | None = None,
    tags: Mapping[int, Sequence[str]] | None = None,
    seed: int = 11,
) -> AsyncIterator[SimulatedFleet]:
    """`count` ESP32 stations on version 1.0.0, checking in every FAST s, accepted (and tagged) by the admin."""
    every = {index: STEADY for index in range(count)} | dict(behaviours or {})
    fleet = SimulatedFleet(
        url=url, count=count, interval_s=FAST, seed=seed, crash_rate=0, chips=["esp32"], behaviours=every
    )
    async with fleet:
        await tap.wait_for(lambda _: len(tap.of("station_discovered")) >= count)
        for index, station in enumerate(fleet.stations):
            await admin.accept(station.mac)
            if tags and index in tags:
                await admin.tag(station.mac, add=list(tags[index]))
        # Each has its token and reported itself on it: from now on the appliance knows its signal and version.
        await tap.wait_for(lambda _: len(tap.of("station_token_issued")) >= count)
        await tap.wait_for(lambda _: all(s.stats.checkins >= 3 for s in fleet.stations))
        yield fleet


async def images(admin: AdminClient) -> tuple[str, str]:
    """Import sim-sensor 1.0.0 (what the stations run) and 1.1.0 for the ESP32; return their SHA-256s."""
    old = await admin.import_image(build_image("esp32", project="sim-sensor", version="1.0.0"), "sensor-1.0.0.bin")
    new = await admin.import_image(build_image("esp32", project="sim-sensor", version="1.1.0"), "sensor-1.1.0.bin")
    return old["sha256"], new["sha256"]


def by_mac(rollout: Mapping[str, Any]) -> dict[str, Message]:
    """A rollout's stations by MAC."""
    return {s["mac"]: s for s in rollout["stations"]}
