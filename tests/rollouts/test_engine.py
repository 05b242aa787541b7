"""The rollout engine on a real registry with a clock the test turns: time-outs, pauses, halts, the AP cap.

No HTTP here: stations are played by calling the domain as the station API would (check-ins, polls,
downloads), so that time can jump by minutes without a test waiting for them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from services.core.errors import Conflict
from services.core.eventbus import EventBus
from services.core.rollout_model import RolloutSettings
from services.domain.firmware.store import FirmwareStore
from services.domain.fleet import Administration, FirmwareLibrary, FirmwareOffers, Journal, OtaRequest, ReportPolicy
from services.domain.fleet.reports import StationReports
from services.domain.rollouts.actions import RolloutActions
from services.domain.rollouts.engine import RolloutEngine
from services.store.journal import EventLog
from services.store.registry import Registry
from services.store.registry.history import TransferEnd, TransferStart, finish_transfers, start_transfers
from tests.imagefactory import build_image

MACS = ["02:AA:00:00:00:01", "02:AA:00:00:00:02", "02:AA:00:00:00:03"]
AP = "0A:00:00:00:00:01"


class Clock:
    """The time as the test says it is."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Site:
    """The domain of one appliance, wired as the service wires it, minus the sockets."""

    def __init__(self, registry: Registry, tmp_path: Path) -> None:
        self.clock = Clock()
        self.journal = Journal(registry, EventBus(), clock=self.clock)
        self.registry = registry
        self.engine = RolloutEngine(self.journal)
        self.reports = StationReports(self.journal, ReportPolicy(), observer=self.engine)
        self.offers = FirmwareOffers(self.journal, self.engine)
        self.admin = Administration(self.journal)
        self.library = FirmwareLibrary(self.journal, FirmwareStore(tmp_path / "firmware"), 16 * 1024 * 1024)
        self.rollouts = RolloutActions(self.journal, self.engine, RolloutSettings())
        self.uptime = dict.fromkeys(MACS, 100)
        self.sha256 = ""  # the image of 1.1.0, once imported

    async def check_in(self, mac: str, version: str = "1.0.0", **fields: Any) -> None:
        """A check-in a little later than the last one."""
        self.uptime[mac] += 5
        body = {"mac": mac, "chip": "esp32", "version": version, "rssi": -60, "uptime_s": self.uptime[mac]}
        await self.reports.check_in({**body, "bssid": AP, "free_heap": 100_000, **fields}, None)

    async def poll(self, mac: str, version: str = "1.0.0") -> str | None:
        """The stock client's poll from a station running `version`; the SHA-256 offered, or None for 304."""
        image = await self.offers.decide(OtaRequest(mac=mac, client="HTTPUpdate", version=version))
        return None if image is None else image.sha256

    async def download(self, mac: str, sha256: str, *, complete: bool = True) -> int:
        """A download as the OTA route logs it; returns its transfer id (left open unless `complete`)."""

        async def begin(entry: EventLog) -> int:
            [transfer] = await start_transfers(entry.conn, [TransferStart(mac, sha256, 0, 9)], entry.now)
            await self.engine.transfer_started(entry, mac, sha256)
            return transfer

        transfer = await self.journal.write(begin)
        if complete:
            await self.finish(transfer, mac, sha256)
        return transfer

    async def finish(self, transfer: int, mac: str, sha256: str) -> None:
        """The download `transfer` ends, whole."""

        async def end(entry: EventLog) -> None:
            await finish_transfers(entry.conn, [TransferEnd(transfer, 10, True)], entry.now)
            await self.engine.transfer_finished(entry, mac, sha256, 1.0)

        await self.journal.write(end)

    async def state(self, rollout_id: int) -> dict[str, str]:
        """Each station's state in the rollout."""
        return {row.mac: row.state for row in await self.registry.rollouts.stations(rollout_id)}


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    """Three accepted ESP32 stations on 1.0.0 behind one access point, and an image of 1.1.0."""
    registry = await Registry.open(tmp_path / "registry.sqlite3")
    built = Site(registry, tmp_path)
    for mac in MACS:
        await built.check_in(mac)
        await built.admin.set_status(mac, "accepted")
        await built.check_in(mac)
    image, _ = await built.library.import_image(build_image("esp32", project="p", version="1.1.0"), "p.bin")
    built.sha256 = image.sha256
    yield built
    await registry.close()


async def start(site: Site, **body: Any) -> int:
    rollout = await site.rollouts.start({"image": site.sha256, "target": {"all": True}, **body})
    return rollout.id


async def test_at_most_n_stations_download_through_one_access_point_at_once(site: Site) -> None:
    rollout = await start(site, waves=["100%"], downloads_per_ap=2)
    a, b, c = MACS
    assert set((await site.state(rollout)).values()) == {"initiated"}
    first, second = await site.poll(a), await site.poll(b)
    assert first == second == site.sha256
    # a and b were offered it but have not begun: their offers hold the two slots, so c waits.
    assert await site.poll(c) is None
    note = (await site.registry.stations.require(c)).ota_note
    assert note == f"waits for a download slot on access point {AP} (2 downloads running)"
    open_transfer = await site.download(a, site.sha256, complete=False)
    await site.download(b, site.sha256)
    assert await site.poll(c) == site.sha256, "b's download ended: a slot is free"
    await site.finish(open_transfer, a, site.sha256)
    assert (await site.state(rollout))[a] == "downloaded"


async def test_a_pause_stops_the_clock_and_a_resume_gives_the_time_back(site: Site) -> None:
    rollout = await start(site, waves=["100%"], timeout_s=100)
    site.clock.now += 10
    await site.rollouts.pause(rollout)
    site.clock.now += 500  # far past every deadline
    await site.engine.tick()
    assert set((await site.state(rollout)).values()) == {"initiated"}, "nobody is judged while paused"
    assert await site.poll(MACS[0]) is None, "nothing is offered while paused"
    await site.rollouts.resume(rollout)
    site.clock.now += 80  # 90 s of the 100 have run, not counting the pause
    await site.engine.tick()
    assert set((await site.state(rollout)).values()) == {"initiated"}
    site.clock.now += 11
    await site.engine.tick()
    rows = {r.mac: r for r in await site.registry.rollouts.stations(rollout)}
    asked = rows.pop(MACS[0])
    assert (asked.state, asked.outcome) == ("timed_out", "got_304")
    assert asked.reason is not None
    assert "answered 304: rollout 1 is paused" in asked.reason
    assert {(r.state, r.outcome) for r in rows.values()} == {("timed_out", "never_asked")}


async def test_resuming_a_halted_rollout_accepts_that_waves_failures_and_carries_on(site: Site) -> None:
    rollout = await start(site, waves=[1, "rest"], timeout_s=60)
    canary = next(mac for mac, state in (await site.state(rollout)).items() if state == "initiated")
    site.clock.now += 61
    await site.engine.tick()
    halted = await site.registry.rollouts.require(rollout)
    assert halted.state == "halted"
    assert halted.reason == "wave 1 failed: 1 of 1 stations (100 %) failed, more than the 10 % allowed"
    with pytest.raises(Conflict, match="is halted: cannot pause it"):
        await site.rollouts.pause(rollout)
    await site.rollouts.resume(rollout)
    states = await site.state(rollout)
    assert states.pop(canary) == "timed_out"
    assert set(states.values()) == {"initiated"}, "wave 2 began"
    assert (await site.registry.rollouts.require(rollout)).current_wave == 1


async def test_one_unfinished_rollout_per_station_and_its_image_stays(site: Site) -> None:
    rollout = await start(site, waves=["100%"])
    with pytest.raises(Conflict, match="already in an unfinished rollout"):
        await start(site)
    with pytest.raises(Conflict, match=f"is used by rollout {rollout}, which has not finished"):
        await site.library.delete(site.sha256)
    await site.rollouts.cancel(rollout)
    assert (await site.registry.rollouts.require(rollout)).state == "cancelled"
    assert await site.poll(MACS[0]) is None, "a cancelled rollout offers nothing, and nothing is assigned"
    second = await start(site)
    assert second != rollout


async def test_a_plan_says_what_start_would_do_and_starts_nothing(site: Site) -> None:
    await site.admin.tag(MACS[2], add=["critical"])
    body = {"image": site.sha256, "target": {"all": True}, "waves": [1, "rest"], "soak_s": 60}
    plan = await site.rollouts.plan(body)
    assert (plan.name, plan.sizes, plan.settings.soak_s) == ("p 1.1.0", (1, 2), 60)
    assert plan.ordered[-1].mac == MACS[2], "the critical station goes last"
    assert await site.registry.rollouts.all() == []
    started = await site.rollouts.start(body)
    rows = await site.registry.rollouts.stations(started.id)
    assert [(r.mac, r.wave) for r in rows] == [(s.mac, w) for s, w in zip(plan.ordered, (0, 1, 1), strict=True)]


async def test_cancelling_leaves_a_soaking_station_on_what_it_runs_whatever_its_tag_is_assigned(site: Site) -> None:
    # The cancel prompt says stations keep what they run. A station still soaking the new image was released
    # to its old tag assignment, and the next poll sent it straight back to the old version.
    soaking, untouched = MACS[0], MACS[1]
    old, _ = await site.library.import_image(build_image("esp32", project="p", version="1.0.0"), "old.bin")
    for mac in (soaking, untouched):
        await site.admin.tag(mac, add=["garden"])
    await site.admin.assign(old.sha256, tag="garden")
    rollout = await start(site, waves=["100%"], soak_s=600, timeout_s=1800)
    assert await site.poll(soaking) == site.sha256
    await site.download(soaking, site.sha256)
    site.uptime[soaking] = 0  # it restarted into the new image
    await site.check_in(soaking, version="1.1.0")
    assert (await site.state(rollout))[soaking] == "updating"
    await site.rollouts.cancel(rollout)
    assert await site.poll(soaking, version="1.1.0") is None, "it keeps the image it runs"
    assert await site.registry.images.assigned_for(
        await site.registry.stations.require(soaking)
    ) == await site.registry.images.by_prefix(site.sha256)
    assert await site.poll(untouched) is None, "one never reached keeps its assignment, which it runs"
    assert await site.registry.images.assigned_for(await site.registry.stations.require(untouched)) == old


async def test_a_critical_station_is_not_updated_by_a_tag_assignment_outside_the_window(site: Site) -> None:
    pump = MACS[0]
    await site.admin.tag(pump, add=["critical", "field"])
    await site.admin.assign(site.sha256, tag="field")
    assert await site.poll(pump) is None
    note = (await site.registry.stations.require(pump)).ota_note
    assert note is not None
    assert note.startswith("critical: waits for the admin's approval")
    await site.admin.assign(site.sha256, station=pump)
    assert await site.poll(pump) == site.sha256, "its own assignment is the admin's explicit word"
