"""One simulated station: checks in, fetches its config and pulls firmware with its stock client, as firmware would."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from typing import Any

import aiohttp

from services.core.errors import InvalidImage
from services.core.models import STATION_STATUSES
from services.domain.firmware.image import inspect_image
from services.simulator.answers import ContractError, TokenRefused, json_answer
from services.simulator.behaviour import HEALTHY, Behaviour
from services.simulator.commands import carried_commands, obey, reset_code
from services.simulator.identity import (
    SIM_PROJECT,
    SIM_VERSION,
    StationIdentity,
    factory_sketch,
    free_heap,
    free_sketch_space,
)
from services.simulator.otaclient import (
    OtaResult,
    PartialDownload,
    poll_for_update,
    running_sketch_after,
    stock_headers,
)
from services.simulator.stats import StationStats

log = logging.getLogger(__name__)

DEFAULT_CRASH_RATE = 0.001  # chance per check-in of a watchdog or brownout restart

TRANSIENT_ERRORS = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError)
_JITTER = 0.2  # ±20 % on every interval, so that a fleet started together does not beat in lockstep
_RSSI_MIN, _RSSI_MAX = -90, -40


class SimulatedStation:
    """A station that speaks the station contract as its firmware and its stock OTA client would."""

    def __init__(
        self,
        index: int,
        *,
        seed: int = 0,
        interval_s: float = 10.0,
        ota_every: int = 1,
        crash_rate: float = DEFAULT_CRASH_RATE,
        resume_downloads: bool = False,
        behaviour: Behaviour = HEALTHY,
        chip: str | None = None,
    ) -> None:
        self.identity = StationIdentity.derive(seed, index, chip)
        self.interval_s = interval_s
        self.ota_every = max(1, ota_every)
        self.crash_rate = crash_rate
        self.resume_downloads = resume_downloads  # esp_https_ota-style: ask for the rest of a broken download
        self.behaviour = behaviour
        self.project = SIM_PROJECT
        self.version = SIM_VERSION  # what the firmware calls itself, in check-ins and x-...-version
        self.running_version = SIM_VERSION  # what it really runs
        self.token: str | None = None
        self.status: str | None = None
        self.config: dict[str, Any] | None = None
        self.config_etag: str | None = None  # the ETag of the config last fetched
        self.applied_etag: str | None = None  # the ETag of the config put to use: reported in check-ins
        self.networks: list[dict[str, Any]] = []  # the Wi-Fi list the firmware would store and join from
        self.ota_path = "/ota"
        self.restart_cause = "power_on"
        self.commands_done: set[int] = set()  # command ids already run, as firmware keeps them across a reboot
        self.stats = StationStats()
        self._rng = random.Random(f"stationmaster-sim/{seed}/{index}/life")
        self._rssi = self._rng.randint(-75, -55)
        # Joining the Wi-Fi and DHCP take a few seconds before the first check-in.
        self._booted_at = time.monotonic() - self._rng.uniform(3, 8)
        self._rounds = 0
        self._partial: PartialDownload | None = None
        self._crash_looping = False
        self._gave_up_updates = False  # stop_download_at: the firmware stops asking for updates
        self._dead = False  # dead_after_update: bricked
        self.sketch = factory_sketch(self.identity, self._rng)

    @property
    def mac(self) -> str:
        """The Wi-Fi station MAC, `02:..` upper-case as WiFi.macAddress() prints it."""
        return self.identity.mac

    @property
    def chip(self) -> str:
        """The chip family, by the contract's name."""
        return self.identity.chip

    @property
    def name(self) -> str:
        """The simulator's name for this station (the appliance names it in the config)."""
        return self.identity.name

    @property
    def uptime_s(self) -> int:
        """Whole seconds since the last (re)boot."""
        return int(time.monotonic() - self._booted_at)

    async def run(self, session: aiohttp.ClientSession) -> None:
        """Live until cancelled: one cycle every interval (±20 %), backing off while the appliance is unreachable."""
        await asyncio.sleep(self._rng.uniform(0, self.interval_s))  # stations power up at different moments
        failures = 0
        while True:
            delay = self.interval_s * self._rng.uniform(1 - _JITTER, 1 + _JITTER)
            try:
                await self.cycle(session)
                failures = 0
            except TRANSIENT_ERRORS as exc:
                # The appliance may be restarting: firmware carries on and tries again, sooner at first.
                failures += 1
                self._count_error(exc, connection=True)
                delay = min(max(self.interval_s, 30.0), min(1.0, self.interval_s) * 2 ** min(failures - 1, 10))
                delay *= self._rng.uniform(0.5, 1.0)
            except Exception as exc:  # a simulator bug must not silently stop one station of the fleet
                log.exception("simulated station %s failed", self.mac)
                self._count_error(exc)
            await asyncio.sleep(delay)

    async def cycle(self, session: aiohttp.ClientSession) -> None:
        """One round: check in, fetch the config if its ETag changed, and every `ota_every` rounds poll `/ota`."""
        if self.behaviour.offline or self._dead:
            return
        self._maybe_crash()
        if self.behaviour.stock_only:
            await self.poll_ota(session)
            self._rounds += 1
            return
        try:
            answer = await self.check_in(session)
            etag = answer.get("config_etag") if answer else None
            if etag and self.token and etag != self.config_etag:
                await self.fetch_config(session)
            for command in carried_commands(answer):
                await obey(self, session, command)
            asks = not (self.behaviour.no_ota_client or self._gave_up_updates)
            if asks and self._rounds % self.ota_every == 0:
                await self.poll_ota(session)
            self._rounds += 1
        except ContractError as exc:
            if isinstance(exc, TokenRefused):
                self.token = None  # so that a token-less check-in can be issued a fresh one
            self._count_error(exc)

    async def check_in(self, session: aiohttp.ClientSession) -> dict[str, Any] | None:
        """POST a check-in; keep the token and OTA path the answer carries. None when refused (403)."""
        if self.behaviour.signal_dbm is not None:
            self._rssi = self.behaviour.signal_dbm + self._rng.randint(-2, 2)
        else:
            self._rssi = min(_RSSI_MAX, max(_RSSI_MIN, self._rssi + self._rng.randint(-3, 3)))
        body = {
            "mac": self.mac,
            "chip": self.chip,
            "project": self.project,
            "version": self.version,
            "rssi": self._rssi,
            "uptime_s": self.uptime_s,
            "free_heap": self.behaviour.free_heap or free_heap(self.chip, self._rng),
            "restart_cause": self.restart_cause,
            "ip": self.identity.ip,
            "bssid": self.identity.bssid,
            "free_sketch_space": self.sketch.free_space,
        }
        code = reset_code(self.chip, self.restart_cause)
        if code is not None:
            body["reset_reason"] = code
        if self.applied_etag is not None:
            body["config_etag"] = self.applied_etag
        self._prove(body)
        async with session.post("/api/v1/checkin", json=body, headers=self.headers()) as response:
            answer = await json_answer(response, "check-in", 200, self.stats)
        if answer is None:
            return None
        if answer.get("status") not in STATION_STATUSES:
            raise ContractError(f"check-in answer has no valid status: {str(answer)[:200]}")
        self.stats.checkins += 1
        self.status = answer["status"]
        token = answer.get("token")
        if token is not None:
            if not isinstance(token, str) or not token:
                raise ContractError("check-in answer carries a token that is not a string")
            self.token = token
        ota_path = answer.get("ota_path")
        if isinstance(ota_path, str) and ota_path.startswith("/"):
            self.ota_path = ota_path
        return answer

    async def fetch_config(self, session: aiohttp.ClientSession, *, force: bool = False) -> None:
        """GET the config with the ETag held (`force`: without); a 304 here contradicts the check-in's new ETag."""
        headers = self.headers()
        if self.config_etag and not force:
            headers["If-None-Match"] = self.config_etag
        async with session.get("/api/v1/config", headers=headers) as response:
            if response.status == 304:
                raise ContractError(f"config answered 304 to {self.config_etag}, but the check-in named another ETag")
            config = await json_answer(response, "config", 200, self.stats)
            etag = response.headers.get("ETag")
        if config is None:
            return
        if not etag:
            raise ContractError("config answered 200 without an ETag")
        self.config, self.config_etag = config, etag
        self.stats.config_fetches += 1
        self._apply(config, etag)

    def _apply(self, config: dict[str, Any], etag: str) -> None:
        """Put a fetched config to use as firmware would: store its Wi-Fi list, then call that ETag applied."""
        wifi = config.get("wifi")
        if not isinstance(wifi, list) or not all(isinstance(n, dict) and isinstance(n.get("ssid"), str) for n in wifi):
            raise ContractError(f"config 'wifi' is not a list of networks: {str(wifi)[:200]}")
        self.networks = list(wifi)
        self.applied_etag = etag  # reported from the next check-in on, never before it is applied

    async def poll_ota(self, session: aiohttp.ClientSession) -> OtaResult:
        """Poll `/ota` with the stock client's headers; install what it offers, or report why not."""
        self.stats.ota_polls += 1

        async def started() -> None:
            await self.report(session, "update_started", "update init")

        result = await poll_for_update(
            session,
            self.ota_path,
            stock_headers(self.sketch, None if self.behaviour.stock_only else self.version),
            free_space=self.sketch.free_space,
            partial=self._partial if self.resume_downloads else None,
            cut_at=self.behaviour.fail_download_at or self.behaviour.stop_download_at,
            on_start=started,
        )
        self._partial = None
        if result.outcome == "refused":
            self.stats.refused += 1
            log.info("%s: /ota answered 403; carrying on", self.mac)
        elif result.outcome in ("interrupted", "broken"):
            await self._interrupted(session, result)
        elif result.outcome == "failed":
            await self._failed(session, result.reason)
        elif result.outcome == "unexpected":
            raise ContractError(f"/ota: {result.reason}")
        elif result.outcome == "downloaded":
            await self._install(session, result)
        return result

    async def report(self, session: aiohttp.ClientSession, kind: str, message: str) -> None:
        """POST one event of a contract kind; the message is cut to the contract's 256 characters."""
        if self.behaviour.stock_only:
            return  # a stock sketch only prints to its serial port
        body: dict[str, Any] = {"mac": self.mac, "events": [{"kind": kind, "message": message[:256]}]}
        self._prove(body)
        async with session.post("/api/v1/events", json=body, headers=self.headers()) as response:
            if await json_answer(response, "events", 202, self.stats) is not None:
                self.stats.events_sent += 1

    async def _interrupted(self, session: aiohttp.ClientSession, result: OtaResult) -> None:
        self.stats.interrupted_downloads += 1
        if result.outcome == "interrupted" and self.behaviour.stop_download_at is not None:
            self._gave_up_updates = True  # the firmware gives up on updates for good
        elif result.outcome == "interrupted":
            # The link drops once: the next attempt goes through.
            self.behaviour = dataclasses.replace(self.behaviour, fail_download_at=None)
        else:
            self._count_error(ConnectionError(f"/ota: {result.reason}"), connection=True)
        if self.resume_downloads and result.partial is not None and result.partial.data:
            self._partial = result.partial
        else:
            await self._failed(session, result.reason)

    async def _failed(self, session: aiohttp.ClientSession, reason: str) -> None:
        self.stats.failed_updates += 1
        log.info("%s: update failed: %s", self.mac, reason)
        await self.report(session, "update_failed", reason)

    async def _install(self, session: aiohttp.ClientSession, result: OtaResult) -> None:
        data, version = result.data, result.version_header
        if self.chip != "esp8266":
            # Update.end() on the ESP32 family verifies the image (esp_image_verify) before it will boot it.
            try:
                info = await asyncio.to_thread(inspect_image, data)
            except InvalidImage as exc:
                await self._failed(session, f"Update error: the image does not verify: {exc.message}")
                return
            if info.chip != self.chip:
                self._count_error(ContractError(f"/ota offered an {info.chip} image to an {self.chip}"))
                await self._failed(session, f"Update error: the image is for an {info.chip}, this is an {self.chip}")
                return
            version = info.version or version
        claimed = version or self.running_version
        if self.behaviour.boots_old_image:
            # The client said HTTP_UPDATE_OK and the sketch reported it; then the new image fell over at boot
            # and the bootloader went back to the old one, which knows nothing of the update.
            await self.report(session, "update_finished", f"updated to v{claimed} at {time.strftime('%H:%M')}")
            self.stats.restarts += 1
            self.reboot("panic")
            return
        # An ESP8266 image has no app description: only the appliance's x-Firmware-Version says what it is.
        self.sketch = running_sketch_after(
            self.chip, self.mac, data, free_sketch_space(self.chip, len(data)), self.identity.flash_mode
        )
        self.running_version = claimed
        if not self.behaviour.report_old_version:
            self.version = self.running_version
        self._crash_looping = self.behaviour.crash_after_update
        self.stats.updates += 1
        self.reboot("ota")
        await self.report(session, "update_finished", f"updated to v{self.version} at {time.strftime('%H:%M')}")
        self._dead = self.behaviour.dead_after_update

    def _maybe_crash(self) -> None:
        if self._crash_looping:
            cause = "watchdog"
        elif self.crash_rate > 0 and self._rng.random() < self.crash_rate:
            cause = self._rng.choice(("watchdog", "brownout"))
        else:
            return
        self.stats.restarts += 1
        self.reboot(cause)

    def reboot(self, cause: str) -> None:
        """Restart, remembering why (ESP.restart() after writing the cause to RTC memory)."""
        self._booted_at = time.monotonic()
        self.restart_cause = cause

    def _prove(self, body: dict[str, Any]) -> None:
        """Add the station key, as the contract's firmware sends it in every check-in and event report."""
        if not self.behaviour.no_station_key:
            body["station_key"] = self.identity.key

    def headers(self) -> dict[str, str]:
        """The headers of the requests the sketch makes itself: its HTTP client's User-Agent and its token."""
        # HTTPClient's default User-Agent on each core, for the requests the sketch makes itself.
        headers = {"User-Agent": "ESP8266HTTPClient" if self.chip == "esp8266" else "ESP32HTTPClient"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def _count_error(self, exc: BaseException, *, connection: bool = False) -> None:
        self.stats.errors += 1
        if connection:
            self.stats.connection_errors += 1
        self.stats.last_error = f"{self.mac}: {type(exc).__name__}: {exc}"
        log.debug("%s", self.stats.last_error)
