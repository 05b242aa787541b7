"""A flashed station whose first check-in the event stream dropped still counts as arrived: the registry says."""

from __future__ import annotations

from typing import Any

from services.adapters.usb.flashjob import _first_checkin
from services.core.eventbus import EventBus

MAC = "34:85:18:00:00:01"


async def test_a_first_check_in_lost_in_a_stream_gap_is_found_in_the_registry() -> None:
    bus = EventBus(queue_size=4)
    asked: list[str] = []

    async def registry_says() -> dict[str, Any] | None:
        asked.append(MAC)
        return {"kind": "checkin", "mac": MAC, "ip": "10.0.0.9"}

    async with bus.subscribe() as queue:
        bus.publish({"kind": "checkin", "mac": MAC, "ip": "10.0.0.9"})  # the one that matters, then a flood
        for n in range(10):
            bus.publish({"kind": "checkin", "mac": f"02:00:00:00:00:{n:02X}"})
        arrived = await _first_checkin(queue, MAC, 5.0, registry_says)
    assert arrived == {"kind": "checkin", "mac": MAC, "ip": "10.0.0.9"}
    assert asked == [MAC], "the registry is asked once, at the gap"


async def test_without_a_gap_the_stream_alone_decides() -> None:
    bus = EventBus(queue_size=100)

    async def never() -> dict[str, Any] | None:
        raise AssertionError("the registry is asked only after a gap")

    async with bus.subscribe() as queue:
        bus.publish({"kind": "checkin", "mac": "02:00:00:00:00:01"})
        bus.publish({"kind": "checkin", "mac": MAC, "ip": "10.0.0.7"})
        arrived = await _first_checkin(queue, MAC, 5.0, never)
    assert arrived is not None
    assert arrived["ip"] == "10.0.0.7"
