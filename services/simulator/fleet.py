"""A fleet of simulated stations in one process, sharing one HTTP client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

import aiohttp

from services.simulator.station import Behaviour, SimulatedStation, StationStats


class SimulatedFleet:
    """N stations checking in every `interval_s` (±20 %), each polling `/ota` every `ota_every` check-ins."""

    def __init__(
        self,
        *,
        url: str,
        count: int,
        interval_s: float = 10.0,
        seed: int = 0,
        ota_every: int = 1,
        behaviours: Mapping[int, Behaviour] | None = None,
        crash_rate: float = 0.0,
    ) -> None:
        default = Behaviour(crash_rate=crash_rate)
        self.url = url
        self.interval_s = interval_s
        self.ota_every = max(1, ota_every)
        self.stations = [SimulatedStation(i, seed, (behaviours or {}).get(i, default)) for i in range(count)]
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start every station's loop."""
        # Real stations each have their own connection; 100 at a time is plenty for one client process.
        connector = aiohttp.TCPConnector(limit=100)
        self._session = aiohttp.ClientSession(
            self.url, connector=connector, timeout=aiohttp.ClientTimeout(total=120, connect=10)
        )
        self._tasks = [asyncio.create_task(self._live(s), name=f"sim-{s.mac}") for s in self.stations]

    async def stop(self) -> None:
        """Stop every station and close the client."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def run_for(self, duration_s: float) -> StationStats:
        """Run for `duration_s` seconds and return the totals."""
        await self.start()
        try:
            await asyncio.sleep(duration_s)
        finally:
            await self.stop()
        return self.stats

    @property
    def stats(self) -> StationStats:
        """The fleet's totals so far."""
        total = StationStats()
        for station in self.stations:
            total.add(station.stats)
        return total

    async def _live(self, station: SimulatedStation) -> None:
        assert self._session is not None
        # Stations power up at different moments: spread the first check-ins over one interval.
        await asyncio.sleep(station.rng.uniform(0, self.interval_s))
        rounds = 0
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await station.cycle(self._session, self.interval_s, poll_ota=rounds % self.ota_every == 0)
            rounds += 1
            await asyncio.sleep(self.interval_s * station.rng.uniform(0.8, 1.2))
