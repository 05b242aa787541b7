"""What stations send: check-ins, enrolment, events, and the config they fetch with their token."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from services.errors import Forbidden, InvalidInput, Unauthorized
from services.fleet.journal import EventLog, Journal
from services.fleet.parsing import parse_checkin, parse_station_events
from services.fleet.tokens import hash_token, mint_token
from services.models import CheckIn, Station
from services.onboarding import arrival
from services.registry import stations as station_rows
from services.registry.history import maybe_insert_checkin
from services.registry.wifi import config_entry
from services.sitewifi import acks as wifi_acks

_LIVE_FIELDS = ("chip", "project", "version", "rssi", "uptime_s", "free_heap", "restart_cause", "ip", "bssid")


@dataclass(frozen=True, slots=True)
class ReportPolicy:
    """The knobs that shape answers to stations."""

    poll_interval_s: int = 60
    checkin_history_interval_s: float = 300.0


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a station request comes from: its MAC, and whether it proved it with its token."""

    mac: str
    authenticated: bool
    arriving: int | None = None  # the provision whose token it presented, when it has no station row yet
    token_hash: str | None = None


class CheckInObserver(Protocol):
    """Told of every check-in inside its transaction, with the station's row as it was before (rollouts)."""

    async def checked_in(self, log: EventLog, report: CheckIn, before: Mapping[str, Any]) -> None:
        """Judge the check-in; whatever it writes commits with it."""


class StationReports:
    """The station side of the domain: everything `/api/v1/` does."""

    def __init__(self, journal: Journal, policy: ReportPolicy, observer: CheckInObserver | None = None) -> None:
        self._journal = journal
        self._registry = journal.registry
        self._policy = policy
        self._observer = observer

    async def check_in(self, body: object, bearer: str | None) -> dict[str, Any]:
        """Record a check-in and return the answer the contract promises."""
        report = parse_checkin(body)
        caller = await self.identify(report.mac, bearer)

        async def op(log: EventLog) -> tuple[str, str | None]:
            return await self._record(log, report, caller)

        status, token = await self._journal.write(op)
        # Everything a live table row shows, so that a view never has to fetch the station per check-in.
        self._journal.publish_live(
            "checkin",
            {
                "mac": report.mac,
                "status": status,
                "message": "",
                **{name: getattr(report, name) for name in _LIVE_FIELDS if getattr(report, name) is not None},
            },
        )
        answer: dict[str, Any] = {
            "status": status,
            "poll_interval_s": self._policy.poll_interval_s,
            "config_etag": None,
            "commands": [],
            "ota_path": "/ota",
        }
        if token is not None:
            answer["token"] = token
        if status == "accepted" and (caller.authenticated or token is not None):
            answer["config_etag"] = (await self.config_for(report.mac))[0]
        return answer

    async def enrol(self, body: object, bearer: str | None) -> dict[str, Any]:
        """Record a station announcing itself; answer with its status."""
        answer = await self.check_in(body, bearer)
        return {"status": answer["status"], **({"token": answer["token"]} if "token" in answer else {})}

    async def station_events(self, body: object, bearer: str | None) -> int:
        """Store the events a station reports; return how many."""
        mac, events = parse_station_events(body)
        if mac is None:
            if bearer is None:
                raise InvalidInput("field 'mac' is required without a bearer token")
            mac = await self._mac_for_bearer(bearer)
        caller = await self.identify(mac, bearer)
        station = await self._registry.stations.get(caller.mac)
        if station is None:
            raise Forbidden("unknown station: check in first")
        _refuse_if_barred(station)

        async def op(log: EventLog) -> int:
            for kind, message in events:
                await log(kind, caller.mac, message, source="station")
            return len(events)

        return await self._journal.write(op)

    async def config(self, bearer: str | None, held: list[str] | None = None) -> tuple[str, dict[str, Any]]:
        """(ETag, config) for the station owning `bearer` (`held`: its If-None-Match); what is sent is remembered."""
        if bearer is None:
            raise Unauthorized("the config is only for a station's own bearer token")
        mac = await self._mac_for_bearer(bearer)
        etag, config, wifi = await self._config_parts(mac)
        if etag not in (held or ()):
            state = await self._registry.configs.get(mac)
            if state is None or state.sent_etag != etag:
                # Which networks went out under which ETag: a later `config_etag` then proves them held.
                await self._journal.write(lambda log: wifi_acks.config_sent(log, mac, etag, wifi))
        return etag, config

    async def config_for(self, mac: str) -> tuple[str, dict[str, Any]]:
        """Build a station's config (its secrets included) and its ETag."""
        etag, config, _ = await self._config_parts(mac)
        return etag, config

    async def _config_parts(self, mac: str) -> tuple[str, dict[str, Any], list[int]]:
        station = await self._registry.stations.require(mac)
        _refuse_if_barred(station)
        networks = await self._registry.wifi.all()
        config = {
            "name": station.name,
            "tags": list(station.tags),
            "poll_interval_s": self._policy.poll_interval_s,
            "wifi": [config_entry(n) for n in networks],
            "settings": station.settings,
        }
        digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:32]
        return f'"{digest}"', config, [n.id for n in networks]

    async def identify(self, mac: str, bearer: str | None) -> Caller:
        """Check the bearer token against the station it names; refuse a token-holder that sent none."""
        if bearer is not None:
            owner = await self._registry.stations.mac_for_token(hash_token(bearer))
            if owner is None:
                # A station from a bench bundle, presenting the token of its NVS for the first time.
                provision = await self._registry.provisions.awaiting_by_token(hash_token(bearer))
                if provision is None:
                    raise Unauthorized("unknown or revoked token")
                return Caller(mac, authenticated=True, arriving=provision.id, token_hash=hash_token(bearer))
            if owner != mac:
                raise Unauthorized("this token belongs to another station")
            return Caller(mac, authenticated=True)
        token_hash, unconfirmed = await self._registry.stations.token_hash(mac)
        if token_hash is not None and not unconfirmed:
            raise Unauthorized("this station holds a token: send it as 'Authorization: Bearer <token>'")
        return Caller(mac, authenticated=False)

    async def _mac_for_bearer(self, bearer: str) -> str:
        mac = await self._registry.stations.mac_for_token(hash_token(bearer))
        if mac is None:
            raise Unauthorized("unknown or revoked token")
        return mac

    async def _record(self, log: EventLog, report: CheckIn, caller: Caller) -> tuple[str, str | None]:
        conn, now = log.conn, log.now
        if caller.arriving is not None and caller.token_hash is not None:
            await arrival.arrive_by_token(log, caller.arriving, caller.token_hash, report)
        if await station_rows.insert_pending(conn, report.mac, now):
            await log("station_discovered", report.mac, _discovered_message(report), **_identity(report))
        before = await _station_in(conn, report.mac)
        if before["status"] in ("rejected", "retired"):
            raise Forbidden(f"this station is {before['status']}")
        await maybe_insert_checkin(conn, report, now, self._policy.checkin_history_interval_s)
        await station_rows.apply_report(conn, report, now)
        await _log_changes(log, report, before)
        if self._observer is not None and before["status"] == "accepted":
            await self._observer.checked_in(log, report, before)
        token = None
        if caller.authenticated and before["token_unconfirmed"]:
            await station_rows.confirm_token(conn, report.mac)
        if before["status"] == "accepted" and not caller.authenticated:
            # Accepted and token-less (never had one, or the answer carrying it was lost): issue one now.
            token = mint_token()
            await station_rows.set_token(conn, report.mac, hash_token(token), confirmed=False)
            if not before["has_token"]:
                # Only the first issue is news: firmware that never keeps its token would fill the log.
                await log("station_token_issued", report.mac, f"{before['name']} was issued its token")
        if before["status"] == "accepted" and before["last_seen_at"] is None:
            await arrival.first_check_in(log, report.mac, before["name"])
            await log("station_arrived", report.mac, f"{before['name']} arrived", **_identity(report))
        if before["status"] == "accepted" and caller.authenticated and report.config_etag is not None:
            await wifi_acks.config_applied(log, report.mac, before["name"], report.config_etag)
        return str(before["status"]), token


async def _station_in(conn: Any, mac: str) -> dict[str, Any]:
    async with conn.execute(
        "SELECT name, status, token_unconfirmed, last_seen_at, uptime_s, version, project,"
        " token_hash IS NOT NULL, restart_cause FROM stations WHERE mac = ?",
        (mac,),
    ) as cursor:
        row = await cursor.fetchone()
    names = (
        "name",
        "status",
        "token_unconfirmed",
        "last_seen_at",
        "uptime_s",
        "version",
        "project",
        "has_token",
        "restart_cause",
    )
    return dict(zip(names, row, strict=True))


async def _log_changes(log: EventLog, report: CheckIn, before: dict[str, Any]) -> None:
    name = before["name"]
    if report.uptime_s is not None and before["uptime_s"] is not None and report.uptime_s < before["uptime_s"]:
        cause = report.restart_cause or "unknown cause"
        await log("station_restarted", report.mac, f"{name} restarted ({cause})", cause=cause)
    if report.version is not None and before["version"] is not None and report.version != before["version"]:
        await log(
            "version_changed",
            report.mac,
            f"{name} now runs {report.version} (was {before['version']})",
            version=report.version,
            previous=before["version"],
        )


def _refuse_if_barred(station: Station) -> None:
    if station.status in ("rejected", "retired"):
        raise Forbidden(f"this station is {station.status}")


def _identity(report: CheckIn) -> dict[str, Any]:
    return {"chip": report.chip, "project": report.project, "version": report.version, "ip": report.ip}


def _discovered_message(report: CheckIn) -> str:
    what = ", ".join(str(v) for v in (report.chip, report.project, report.version, report.ip) if v)
    return f"new station {report.mac}" + (f" ({what})" if what else "") + " is waiting to be accepted"
