"""A fleet of simulated stations in one process, sharing one HTTP client."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping, Sequence
from types import TracebackType

import aiohttp

from services.simulator.behaviour import HEALTHY, Behaviour
from services.simulator.station import DEFAULT_CRASH_RATE, SimulatedStation
from services.simulator.stats import StationStats

# Real stations each hold their own connection; one client process keeps at most this many open at once.
DEFAULT_CONNECTION_LIMIT = 100
# An ESP's lwIP TCP window is a few KiB (ESP8266 core: 4 x 1460 bytes; ESP-IDF's default 5,744): a simulated
# station's receive buffer is kept as small, so that what the appliance has sent is what the station has had.
_RECEIVE_BUFFER = 8 * 1024
# Like the Arduino clients' timeouts (5-8 s per read), stretched for a busy Pi answering hundreds at once.
_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=30)


class SimulatedFleet:
    """`count` stations checking in every `interval_s` (±20 %), each polling `/ota` every `ota_every` check-ins."""

    def __init__(
        self,
        *,
        url: str,
        count: int,
        interval_s: float = 10.0,
        seed: int = 0,
        ota_every: int = 1,
        crash_rate: float = DEFAULT_CRASH_RATE,
        resume_downloads: bool = False,
        behaviours: Sequence[Behaviour] | Mapping[int, Behaviour] = (),
        chips: Sequence[str] | None = None,
        connection_limit: int = DEFAULT_CONNECTION_LIMIT,
    ) -> None:
        by_index = dict(behaviours) if isinstance(behaviours, Mapping) else dict(enumerate(behaviours))
        self.url = url
        self.connection_limit = connection_limit
        self.stations = [
            SimulatedStation(
                index,
                seed=seed,
                interval_s=interval_s,
                ota_every=ota_every,
                crash_rate=crash_rate,
                resume_downloads=resume_downloads,
                behaviour=by_index.get(index, HEALTHY),
                chip=chips[index % len(chips)] if chips else None,
            )
            for index in range(count)
        ]
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def running(self) -> bool:
        """True between start() and stop()."""
        return self._session is not None

    @property
    def stats(self) -> StationStats:
        """The fleet's totals so far."""
        total = StationStats()
        for station in self.stations:
            total.add(station.stats)
        return total

    def give(self, index: int, behaviour: Behaviour) -> None:
        """Make station `index` behave so from its next cycle on (a test's way to break one station)."""
        self.stations[index].behaviour = behaviour

    async def start(self) -> None:
        """Open the shared client and start every station's loop."""
        if self._session is not None:
            raise RuntimeError("the fleet is already running")
        connector = aiohttp.TCPConnector(limit=self.connection_limit, socket_factory=_station_socket)
        self._session = aiohttp.ClientSession(base_url=self.url, connector=connector, timeout=_TIMEOUT)
        self._tasks = [
            asyncio.create_task(station.run(self._session), name=f"simulated-{station.mac}")
            for station in self.stations
        ]

    async def stop(self) -> None:
        """Cancel every station, wait for them to finish, and close the client."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def run_for(self, duration_s: float) -> StationStats:
        """Run for `duration_s` seconds, stop, and return the totals."""
        await self.start()
        try:
            await asyncio.sleep(duration_s)
        finally:
            await self.stop()
        return self.stats

    async def __aenter__(self) -> SimulatedFleet:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


def _station_socket(addr_info: tuple[int, int, int, str, tuple[object, ...]]) -> socket.socket:
    """A client socket with an ESP-sized receive window (set before connecting, so that it is the one offered)."""
    family, kind, proto, _, _ = addr_info
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
    return sock
