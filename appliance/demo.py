"""The demo's admin: accepts the simulated stations and rolls a new firmware out to them in waves, out loud."""

from __future__ import annotations

import asyncio
import logging
import sys
import time

from appliance.contract.client import AdminClient
from services.root.service import StationmasterService
from services.simulator import Behaviour, SimulatedFleet
from services.simulator.builds import build_app_image

log = logging.getLogger("stationmaster.demo")

DEMO_INTERVAL_S = 3.0
DEMO_SOAK_S = 10.0
DEMO_CHIPS = ("esp8266", "esp32", "esp32c3")
STATUS_EVERY_S = 10.0
STOCK_ONLY_INDEX = 6  # an ESP8266 (chips take turns) whose simulated module runs its flash in DOUT mode


async def run_demo_fleet(
    service: StationmasterService, count: int, stop: asyncio.Event, *, narrate: bool = True
) -> None:
    """Start `count` simulated stations, act as their admin over the admin API; narrate unless the TUI shows it."""
    # One station is the forum thread's STA1: nothing but the stock update client on a DOUT ESP8266 module.
    behaviours = {STOCK_ONLY_INDEX: Behaviour(stock_only=True)} if count > STOCK_ONLY_INDEX else {}
    fleet = SimulatedFleet(
        url=service.station_url, count=count, interval_s=DEMO_INTERVAL_S, seed=1, behaviours=behaviours
    )
    await fleet.start()
    try:
        async with AdminClient(service.settings.admin_socket) as admin:
            narrator = asyncio.create_task(_narrate(admin)) if narrate else None
            try:
                await _act(admin, count, stop)
                if narrate:
                    _say("demo: version 1.1.0 is rolling out, wave by wave (u in the TUI; here the waves)")
                await stop.wait()
            finally:
                if narrator is not None:
                    narrator.cancel()
                    await asyncio.gather(narrator, return_exceptions=True)
    finally:
        await fleet.stop()


async def _act(admin: AdminClient, count: int, stop: asyncio.Event) -> None:
    """Accept every station as it appears, then roll version 1.1.0 out to each chip's stations in waves."""
    accepted: set[str] = set()
    deadline = time.monotonic() + 60
    while len(accepted) < count and time.monotonic() < deadline and not stop.is_set():
        for station in await admin.stations():
            if station["status"] == "pending":
                await admin.accept(station["mac"])
                await admin.tag(station["mac"], add=["demo"])
                accepted.add(station["mac"])
        await asyncio.sleep(0.5)  # the demo polls like a person glancing at the list
    await asyncio.sleep(2 * DEMO_INTERVAL_S)  # let each station report its signal on its token first
    for chip in DEMO_CHIPS:
        data = await asyncio.to_thread(build_app_image, chip, "sim-sensor", "1.1.0")
        image = await admin.import_image(data, f"sim-sensor-{chip}-1.1.0.bin", project="sim-sensor", version="1.1.0")
        # A short soak so that the demo moves: a real one is minutes (the default is 10).
        await admin.start_rollout(
            image["sha256"], target={"tag": "demo"}, waves=[1, "50%", "rest"], soak_s=DEMO_SOAK_S, timeout_s=120
        )
    log.info("demo: version 1.1.0 is rolling out to every station")


async def _narrate(admin: AdminClient) -> None:
    """Print the events a person would care about as they happen."""
    interesting = {
        "station_discovered",
        "station_accepted",
        "station_arrived",
        "image_imported",
        "download_finished",
        "version_changed",
        "station_restarted",
        "update_failed",
        "rollout_started",
        "rollout_wave_passed",
        "rollout_wave_started",
        "rollout_waiting",
        "rollout_halted",
        "rollout_completed",
        "alert_wrong_version",
    }
    checkins, since = 0, time.monotonic()
    seen: set[str] = set()
    async for message in admin.stream_events():
        if message.get("kind") == "checkin":
            checkins += 1
            seen.add(message["mac"])
        elif (
            message.get("kind") in interesting
            or _went_wrong(message)
            or str(message.get("kind")).startswith(("alert_", "command_"))
        ):
            _say(f"{time.strftime('%H:%M:%S')}  {message['message']}")
        if time.monotonic() - since >= STATUS_EVERY_S:
            rate = checkins / (time.monotonic() - since)
            _say(f"{time.strftime('%H:%M:%S')}  {len(seen)} stations checking in, {rate:.1f} check-ins/s")
            checkins, since = 0, time.monotonic()
            seen.clear()


def _went_wrong(message: dict[str, object]) -> bool:
    data = message.get("data")
    return message.get("kind") == "rollout_station" and isinstance(data, dict) and data.get("state") in _BAD


_BAD = ("failed", "timed_out")


def _say(text: str) -> None:
    print(text, file=sys.stdout, flush=True)
