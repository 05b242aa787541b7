"""A strict stand-in for the station API: every request is checked against docs/station-contract.md."""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from services.core.chips import CHIPS
from services.core.models import EVENT_KINDS_FROM_STATIONS

CHECKIN_FIELDS: dict[str, type] = {
    "mac": str,
    "chip": str,
    "project": str,
    "version": str,
    "rssi": int,
    "uptime_s": int,
    "free_heap": int,
    "restart_cause": str,
    "ip": str,
    "bssid": str,
    "free_sketch_space": int,
    "reset_reason": int,
    "config_etag": str,
    "station_key": str,
}
# The stock clients' own headers, spelt as in ESP8266httpUpdate.cpp (core 3.x) and HTTPUpdate.cpp (arduino-esp32 2.x).
ESP8266_HEADERS = frozenset(
    f"x-ESP8266-{name}"
    for name in (
        "Chip-ID",
        "STA-MAC",
        "AP-MAC",
        "free-space",
        "sketch-size",
        "sketch-md5",
        "chip-size",
        "sdk-version",
        "mode",
        "version",
    )
)
ESP32_HEADERS = frozenset(
    f"x-ESP32-{name}"
    for name in (
        "STA-MAC",
        "AP-MAC",
        "free-space",
        "sketch-size",
        "sketch-md5",
        "sketch-sha256",
        "chip-size",
        "sdk-version",
        "mode",
        "version",
    )
)
UPPER_MAC = re.compile(r"([0-9A-F]{2}:){5}[0-9A-F]{2}")
_CHUNK = 4096


@dataclass
class Offer:
    """An image the fake assigns to every station of one chip."""

    data: bytes
    version: str | None  # what x-Firmware-Version says (None: header left out)
    md5: str = ""  # what x-MD5 says; the image's real MD5 unless a test makes it lie
    break_after: int | None = None  # break the first download off after this many bytes

    def __post_init__(self) -> None:
        self.md5 = self.md5 or hashlib.md5(self.data).hexdigest()

    @property
    def etag(self) -> str:
        """The image's ETag, as the contract's 200 answer carries it."""
        return f'"{hashlib.sha256(self.data).hexdigest()[:32]}"'


@dataclass
class Known:
    """What the fake knows of one station."""

    checkins: int = 0
    token: str | None = None


@dataclass
class FakeAppliance:
    """The station API of an appliance, as strict as the contract; a test reads what it saw."""

    accept_after: int = 1  # the admin accepts a station after this many check-ins (0: never)
    config_etag: str = '"config-1"'
    barred: set[str] = field(default_factory=set)  # MACs answered 403 everywhere (rejected or retired)
    offers: dict[str, Offer] = field(default_factory=dict)
    stations: dict[str, Known] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    checkins: list[tuple[dict[str, Any], str | None]] = field(default_factory=list)
    config_requests: list[tuple[str | None, str | None]] = field(default_factory=list)
    ota_requests: list[dict[str, str]] = field(default_factory=list)
    events: list[tuple[str, str, str]] = field(default_factory=list)
    commands: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # carried in answers until answered
    command_answers: list[tuple[str, int, str, str]] = field(default_factory=list)  # (mac, id, status, message)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def app(self) -> web.Application:
        """A fresh aiohttp app serving this fake's state (a restarted appliance keeps its registry)."""
        app = web.Application(client_max_size=16 * 1024)
        app.router.add_post("/api/v1/checkin", self._checkin)
        app.router.add_get("/api/v1/config", self._config)
        app.router.add_post("/api/v1/events", self._events)
        app.router.add_post("/api/v1/commands/{id}", self._command_answer)
        app.router.add_get("/ota", self._ota)
        return app

    async def wait_until(self, condition: Callable[[], bool], within_s: float = 20.0) -> None:
        """Return once `condition()` holds after some request; fail after `within_s` seconds."""

        async def wait() -> None:
            async with self._changed:
                await self._changed.wait_for(condition)

        await asyncio.wait_for(wait(), within_s)

    def events_of(self, mac: str) -> list[tuple[str, str]]:
        """(kind, message) of every event `mac` reported, in order."""
        return [(kind, message) for who, kind, message in self.events if who == mac]

    async def _checkin(self, request: web.Request) -> web.StreamResponse:
        body = await self._json(request)
        self._check_checkin(body)
        mac = str(body.get("mac"))
        self.checkins.append((body, request.headers.get("Authorization")))
        refused = self._authorise(request, mac)
        if refused is not None:
            return await self._done(refused)
        known = self.stations.setdefault(mac, Known())
        known.checkins += 1
        accepted = 0 < self.accept_after <= known.checkins
        answer: dict[str, Any] = {
            "status": "accepted" if accepted else "pending",
            "poll_interval_s": 60,
            "config_etag": None,
            "commands": list(self.commands.get(mac, [])) if accepted else [],
            "ota_path": "/ota",
        }
        if accepted:
            if known.token is None:
                known.token = answer["token"] = f"token-for-{mac.replace(':', '')}"
            answer["config_etag"] = self.config_etag
        return await self._done(web.json_response(answer))

    async def _config(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization")
        self.config_requests.append((request.headers.get("If-None-Match"), auth))
        owner = next((mac for mac, known in self.stations.items() if f"Bearer {known.token}" == auth), None)
        if owner is None:
            return await self._done(self._violation(f"config asked for without a valid bearer token ({auth!r})", 401))
        headers = {"ETag": self.config_etag}
        if request.headers.get("If-None-Match") == self.config_etag:
            return await self._done(web.Response(status=304, headers=headers))
        config = {"name": owner, "tags": [], "poll_interval_s": 60, "wifi": [], "settings": {}}
        return await self._done(web.json_response(config, headers=headers))

    async def _events(self, request: web.Request) -> web.StreamResponse:
        body = await self._json(request)
        mac, events = str(body.get("mac")), body.get("events")
        refused = self._authorise(request, mac)
        if refused is not None:
            return await self._done(refused)
        if not isinstance(events, list) or not 1 <= len(events) <= 32:
            return await self._done(self._violation(f"events must be a list of 1 to 32: {events!r}"))
        for event in events:
            if event.get("kind") not in EVENT_KINDS_FROM_STATIONS or len(str(event.get("message"))) > 256:
                return await self._done(self._violation(f"bad event {event!r}"))
            self.events.append((mac, event["kind"], event["message"]))
        return await self._done(web.json_response({"accepted": len(events)}, status=202))

    async def _command_answer(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization")
        owner = next((mac for mac, known in self.stations.items() if f"Bearer {known.token}" == auth), None)
        if owner is None:
            return await self._done(self._violation(f"command answered without a valid bearer token ({auth!r})", 401))
        command_id = int(request.match_info["id"])
        if all(c["id"] != command_id for c in self.commands.get(owner, [])):
            return await self._done(self._violation(f"{owner} answered command {command_id}, never given to it", 404))
        body = await self._json(request)
        status, message = body.get("status"), body.get("message", "")
        if status not in ("running", "succeeded", "failed") or not isinstance(message, str) or len(message) > 256:
            return await self._done(self._violation(f"bad command answer {body!r}"))
        self.command_answers.append((owner, command_id, status, message))
        if status != "running":  # finished: no longer carried (a real appliance also stops re-sending)
            self.commands[owner] = [c for c in self.commands[owner] if c["id"] != command_id]
        return await self._done(web.json_response({"id": command_id, "state": status}))

    async def _ota(self, request: web.Request) -> web.StreamResponse:
        names = {name.decode() for name, _ in request.raw_headers}
        headers = {name.decode(): value.decode() for name, value in request.raw_headers}
        self.ota_requests.append(headers)
        chip = self._check_stock_client(names, headers)
        prefix = "x-ESP8266-" if chip == "esp8266" else "x-ESP32-"
        mac = headers.get(prefix + "STA-MAC", "")
        offer = self.offers.get(chip)
        if mac in self.barred:
            return await self._done(web.Response(status=403))
        if offer is None or headers.get(prefix + "sketch-md5") == hashlib.md5(offer.data).hexdigest():
            return await self._done(web.Response(status=304))
        first = 0
        if "Range" in headers:
            match = re.fullmatch(r"bytes=(\d+)-", headers["Range"])
            if match is None or headers.get("If-Range", offer.etag) != offer.etag:
                return await self._done(self._violation(f"unexpected Range {headers['Range']!r}"))
            first = int(match.group(1))
        response = web.StreamResponse(status=206 if first else 200)
        response.content_length = len(offer.data) - first
        response.headers.update({"x-MD5": offer.md5, "ETag": offer.etag, "Accept-Ranges": "bytes"})
        if offer.version is not None:
            response.headers["x-Firmware-Version"] = offer.version
        if first:
            response.headers["Content-Range"] = f"bytes {first}-{len(offer.data) - 1}/{len(offer.data)}"
        await response.prepare(request)
        end, offer.break_after = offer.break_after or len(offer.data), None
        for offset in range(first, max(first, end), _CHUNK):
            await response.write(offer.data[offset : min(offset + _CHUNK, end)])
        if end < len(offer.data):
            assert request.transport is not None
            request.transport.close()  # flush what was written, then hang up: the image is cut short
        else:
            await response.write_eof()
        return await self._done(response)

    def _check_checkin(self, body: dict[str, Any]) -> None:
        for name, value in body.items():
            if name not in CHECKIN_FIELDS or type(value) is not CHECKIN_FIELDS[name]:
                self.violations.append(f"check-in field {name}={value!r} is not in the contract")
        if not UPPER_MAC.fullmatch(str(body.get("mac"))) or not UPPER_MAC.fullmatch(str(body.get("bssid"))):
            self.violations.append(f"check-in MAC or BSSID not AA:BB:..: {body.get('mac')} {body.get('bssid')}")
        if body.get("chip") not in CHIPS or not -90 <= int(body.get("rssi", 0)) <= -40:
            self.violations.append(f"check-in chip or RSSI out of range: {body.get('chip')} {body.get('rssi')}")
        if len(str(body.get("restart_cause", ""))) > 64 or int(body.get("uptime_s", 0)) < 0:
            self.violations.append(f"check-in restart cause or uptime out of range: {body}")
        try:
            ipaddress.IPv4Address(str(body.get("ip")))
        except ValueError:
            self.violations.append(f"check-in ip {body.get('ip')!r} is not an IPv4 address")

    def _check_stock_client(self, names: set[str], headers: dict[str, str]) -> str:
        """Return the chip the headers come from; record a violation for anything the stock clients do not send."""
        esp8266 = "x-ESP8266-STA-MAC" in names
        expected = ESP8266_HEADERS if esp8266 else ESP32_HEADERS
        sent = {name for name in names if name.lower().startswith("x-")}
        if sent != expected:
            self.violations.append(f"OTA headers {sorted(sent ^ expected)} differ from the stock client's")
        prefix = "x-ESP8266-" if esp8266 else "x-ESP32-"
        agent = "ESP8266-http-Update" if esp8266 else "ESP32-http-Update"
        if headers.get("User-Agent") != agent or headers.get(prefix + "mode") != "sketch":
            self.violations.append(f"OTA User-Agent or mode wrong: {headers}")
        if not esp8266 and headers.get("Cache-Control") != "no-cache":
            self.violations.append("HTTPUpdate always sends Cache-Control: no-cache")
        for name in ("STA-MAC", "AP-MAC"):
            if not UPPER_MAC.fullmatch(headers.get(prefix + name, "")):
                self.violations.append(f"{prefix}{name} is not WiFi.macAddress()'s format")
        if not re.fullmatch(r"[0-9a-f]{32}", headers.get(prefix + "sketch-md5", "")):
            self.violations.append("sketch MD5 must be 32 lower-case hex digits")
        for name in ("free-space", "sketch-size", "chip-size") + (("Chip-ID",) if esp8266 else ()):
            if not headers.get(prefix + name, "").isdigit():
                self.violations.append(f"{prefix}{name} must be decimal")
        return "esp8266" if esp8266 else self._chip(headers.get(prefix + "STA-MAC", ""))

    def _chip(self, mac: str) -> str:
        """The ESP32-family chip `mac` named in its last check-in (the OTA headers do not say)."""
        for body, _ in reversed(self.checkins):
            if body.get("mac") == mac:
                return str(body.get("chip"))
        self.violations.append(f"{mac} polled /ota before its first check-in")
        return "esp32"

    def _authorise(self, request: web.Request, mac: str) -> web.Response | None:
        """Refuse a barred station; check that the bearer token is sent once issued, and never before."""
        if mac in self.barred:
            return web.json_response({"error": {"code": "forbidden", "message": "rejected"}}, status=403)
        token = self.stations.get(mac, Known()).token
        auth = request.headers.get("Authorization")
        if token is None and auth is not None:
            return self._violation(f"{mac} sent {auth!r} before it was issued a token", 401)
        if token is not None and auth != f"Bearer {token}":
            return self._violation(f"{mac} sent {auth!r} instead of its bearer token", 401)
        return None

    async def _json(self, request: web.Request) -> dict[str, Any]:
        if request.content_type != "application/json":
            self.violations.append(f"{request.path} sent as {request.content_type}")
        body = json.loads(await request.read())
        assert isinstance(body, dict), body
        return body

    def _violation(self, message: str, status: int = 400) -> web.Response:
        self.violations.append(message)
        return web.json_response({"error": {"code": "bad_request", "message": message}}, status=status)

    async def _done(self, response: web.StreamResponse) -> web.StreamResponse:
        async with self._changed:
            self._changed.notify_all()
        return response
