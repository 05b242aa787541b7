"""A subscriber that falls behind loses its oldest messages, never the bus's time, and is told that it did."""

from __future__ import annotations

from services.core.eventbus import GAP, EventBus, Subscription


async def drain(subscription: Subscription) -> list[dict[str, object]]:
    """Everything waiting for a subscriber, in the order it reads it."""
    taken = []
    while not subscription.empty():
        taken.append(await subscription.get())
    return taken


async def test_a_subscriber_that_falls_behind_is_told_how_many_it_lost_before_what_is_left() -> None:
    bus = EventBus(queue_size=10)
    async with bus.subscribe() as slow, bus.subscribe() as keeping_up:
        quick: list[dict[str, object]] = []
        for n in range(25):
            bus.publish({"kind": "checkin", "n": n})
            if n % 5 == 4:
                quick.extend(await drain(keeping_up))
        assert [m["n"] for m in quick] == list(range(25)), "one that keeps up misses nothing and hears of no gap"

        behind = await drain(slow)
        assert behind[0]["kind"] == GAP, "the notice comes first"
        assert behind[0]["lost"] == 15, "and says how many were lost"
        assert [m["n"] for m in behind[1:]] == list(range(15, 25)), "then the newest messages, in order"

        for n in range(25, 40):  # it caught up; falling behind again is told again
            bus.publish({"kind": "checkin", "n": n})
        again = await drain(slow)
        assert [m.get("lost") for m in again if m["kind"] == GAP] == [5]
        assert [m["n"] for m in again[1:]] == list(range(30, 40))
    assert bus.subscriber_count == 0


async def test_the_end_of_the_stream_reaches_even_a_subscriber_far_behind() -> None:
    bus = EventBus(queue_size=10)
    async with bus.subscribe() as slow:
        for n in range(50):
            bus.publish({"kind": "checkin", "n": n})
        bus.close()
        messages = await drain(slow)
    assert messages[0]["kind"] == GAP
    assert messages[-1] == {}, "the empty message that says the service is stopping is never the one lost"
