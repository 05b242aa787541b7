"""One simulated station: checks in, fetches its config, pulls firmware with its stock client's headers."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import random
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from services.errors import InvalidImage
from services.firmware.image import inspect_image
from services.simulator.otaclient import RunningSketch, ota_headers

log = logging.getLogger(__name__)

SIM_CHIPS = ("esp8266", "esp32", "esp32c3")


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How a simulated station misbehaves, for tests of what the appliance makes of it."""

    offline: bool = False
    fail_download_at: float | None = None  # fraction of the image after which the link drops
    resume_downloads: bool = True
    crash_after_update: bool = False
    report_old_version: bool = False
    crash_rate: float = 0.0  # chance per check-in of a watchdog restart


@dataclass(slots=True)
class StationStats:
    """What one station (or, summed, a fleet) did."""

    checkins: int = 0
    errors: int = 0
    config_fetches: int = 0
    updates: int = 0
    failed_updates: int = 0
    last_error: str | None = field(default=None)

    def add(self, other: StationStats) -> None:
        """Sum another station's figures into these."""
        self.checkins += other.checkins
        self.errors += other.errors
        self.config_fetches += other.config_fetches
        self.updates += other.updates
        self.failed_updates += other.failed_updates
        self.last_error = other.last_error or self.last_error


class SimulatedStation:
    """A station that speaks the contract as real firmware would."""

    def __init__(self, index: int, seed: int = 0, behaviour: Behaviour | None = None, chip: str | None = None) -> None:
        rng = random.Random(f"{seed}/{index}")
        self.rng = rng
        self.mac = "02:" + ":".join(f"{rng.randrange(256):02X}" for _ in range(5))
        self.chip = chip or SIM_CHIPS[index % len(SIM_CHIPS)]
        self.project = "sim-sensor"
        self.version = "1.0.0"
        self.behaviour = behaviour or Behaviour()
        self.token: str | None = None
        self.config: dict[str, Any] | None = None
        self.config_etag: str | None = None
        self.status: str | None = None
        self.rssi = rng.randint(-80, -50)
        self.uptime_s = rng.randint(10, 5000)
        self.restart_cause = "power_on"
        self.ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        self.bssid = "11:22:33:44:55:66"
        self.sketch = RunningSketch(
            sta_mac=self.mac,
            version=self.version,
            md5=rng.randbytes(16).hex(),
            size=600_000,
            free_space=1_900_000,
        )
        self.stats = StationStats()
        self._partial = bytearray()

    async def cycle(self, session: aiohttp.ClientSession, elapsed_s: float, poll_ota: bool) -> None:
        """One round of a station's life: check in, fetch config if it changed, poll for firmware."""
        if self.behaviour.offline:
            return
        self.uptime_s += int(elapsed_s)
        self.rssi = max(-95, min(-35, self.rssi + self.rng.choice((-2, -1, 0, 0, 1, 2))))
        if self.behaviour.crash_rate and self.rng.random() < self.behaviour.crash_rate:
            self._reboot("watchdog")
        try:
            answer = await self.check_in(session)
            if answer.get("config_etag") and answer["config_etag"] != self.config_etag and self.token:
                await self.fetch_config(session)
            if poll_ota and self.status == "accepted":
                await self.poll_ota(session)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            self.stats.errors += 1
            self.stats.last_error = f"{self.mac}: {type(exc).__name__}: {exc}"

    async def check_in(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        """POST a check-in; keep the token the answer may carry."""
        body = {
            "mac": self.mac,
            "chip": self.chip,
            "project": self.project,
            "version": self.version,
            "rssi": self.rssi,
            "uptime_s": self.uptime_s,
            "free_heap": 20_000 + self.rng.randrange(150_000),
            "restart_cause": self.restart_cause,
            "ip": self.ip,
            "bssid": self.bssid,
            "free_sketch_space": self.sketch.free_space,
        }
        async with session.post("/api/v1/checkin", json=body, headers=self._auth()) as response:
            answer: dict[str, Any] = await response.json()
            if response.status != 200:
                raise ValueError(f"check-in answered {response.status}: {answer.get('error')}")
        self.stats.checkins += 1
        self.status = answer["status"]
        if "token" in answer:
            self.token = answer["token"]
        return answer

    async def fetch_config(self, session: aiohttp.ClientSession) -> None:
        """GET the config, sending the ETag we hold."""
        headers = self._auth()
        if self.config_etag:
            headers["If-None-Match"] = self.config_etag
        async with session.get("/api/v1/config", headers=headers) as response:
            if response.status == 304:
                return
            if response.status != 200:
                raise ValueError(f"config answered {response.status}")
            self.config = await response.json()
            self.config_etag = response.headers.get("ETag")
        self.stats.config_fetches += 1

    async def poll_ota(self, session: aiohttp.ClientSession) -> None:
        """Poll `/ota` as the stock client does; apply an image if one comes."""
        headers = ota_headers(self.chip, self.sketch)
        if self._partial and self.behaviour.resume_downloads:
            headers["Range"] = f"bytes={len(self._partial)}-"
        async with session.get("/ota", headers=headers) as response:
            if response.status in (304, 403):
                return
            if response.status not in (200, 206):
                raise ValueError(f"/ota answered {response.status}")
            if response.status == 200:
                self._partial.clear()
                await self.report(session, "update_started", "update init")
            expected_md5 = response.headers.get("x-MD5", "")
            total = len(self._partial) + int(response.headers["Content-Length"])
            version_header = response.headers.get("x-Firmware-Version")
            cut = self.behaviour.fail_download_at
            async for chunk in response.content.iter_chunked(4096):
                self._partial += chunk
                if cut is not None and len(self._partial) >= cut * total:
                    self.behaviour = dataclasses.replace(self.behaviour, fail_download_at=None)
                    response.close()  # the link drops mid-download
                    return
        await self._apply(session, bytes(self._partial), expected_md5, version_header)

    async def report(self, session: aiohttp.ClientSession, kind: str, message: str) -> None:
        """POST one event."""
        body = {"mac": self.mac, "events": [{"kind": kind, "message": message}]}
        async with session.post("/api/v1/events", json=body, headers=self._auth()) as response:
            await response.read()

    async def _apply(self, session: aiohttp.ClientSession, data: bytes, md5: str, version_header: str | None) -> None:
        self._partial.clear()
        if hashlib.md5(data).hexdigest() != md5.lower() or not data or data[0] != 0xE9:
            self.stats.failed_updates += 1
            await self.report(session, "update_failed", "the image failed its MD5 or magic check")
            return
        version = version_header
        if self.chip != "esp8266":
            try:
                version = (await asyncio.to_thread(inspect_image, data)).version or version
            except InvalidImage as exc:
                self.stats.failed_updates += 1
                await self.report(session, "update_failed", f"bad image: {exc.message}")
                return
        if not self.behaviour.report_old_version and version:
            self.version = version
        self.sketch = RunningSketch(
            sta_mac=self.mac,
            version=self.version,
            md5=hashlib.md5(data).hexdigest(),
            size=len(data),
            free_space=self.sketch.free_space,
        )
        self.stats.updates += 1
        self._reboot("ota")
        await self.report(session, "update_finished", f"updated to v{self.version}")
        if self.behaviour.crash_after_update:
            self._reboot("watchdog")

    def _reboot(self, cause: str) -> None:
        self.uptime_s = 0
        self.restart_cause = cause

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}
