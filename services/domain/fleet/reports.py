"""What stations send: check-ins, enrolment, events, and the config they fetch with their token."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from services.core.errors import Forbidden, InvalidInput, Unauthorized
from services.core.models import LIVE_FIELDS, CheckIn, Station
from services.core.tokens import hash_token, mint_token
from services.domain.fleet.allowance import EventAllowances
from services.domain.fleet.cadence import Cadence
from services.domain.fleet.identity import (
    Caller,
    Identities,
    KeyMismatch,
    may_have_token,
    parse_station_key,
    pins_now,
    unproven_again,
)
from services.domain.fleet.parsing import parse_checkin, parse_station_events
from services.domain.fleet.removal import StationRemoval
from services.domain.health.resets import normalise_restart
from services.domain.onboarding import arrival
from services.domain.sitewifi import acks as wifi_acks
from services.store.journal import EventLog, Journal
from services.store.registry import stations as station_rows
from services.store.registry.database import site_wide
from services.store.registry.history import maybe_insert_checkin
from services.store.registry.wifi import config_entry

if TYPE_CHECKING:  # wired in by the service; imported for types only, so the packages load in any order
    from services.domain.commands import CommandQueue
    from services.domain.fleet.coalescing import CheckinCoalescer
    from services.domain.health import CheckinHealth, Verdict

# What a live check-in carries besides its MAC and status (the event stream replays them from a station row).


@dataclass(frozen=True, slots=True)
class ReportPolicy:
    """The knobs that shape answers to stations."""

    poll_interval_s: int = 60
    checkin_history_interval_s: float = 300.0


class CheckInObserver(Protocol):
    """Told of every check-in inside its transaction, with the station's row as it was before (rollouts)."""

    async def checked_in(self, log: EventLog, report: CheckIn, before: Mapping[str, Any]) -> None:
        """Judge the check-in; whatever it writes commits with it."""


class StationReports:
    """The station side of the domain: everything `/api/v1/` does."""

    def __init__(
        self,
        journal: Journal,
        policy: ReportPolicy,
        observer: CheckInObserver | None = None,
        *,
        health: CheckinHealth | None = None,
        commands: CommandQueue | None = None,
        coalescer: CheckinCoalescer | None = None,
        removal: StationRemoval | None = None,
    ) -> None:
        self._journal = journal
        self._registry = journal.registry
        self._policy = policy
        self._observer = observer
        self._health = health
        self._commands = commands
        self._coalescer = coalescer
        self._removal = removal
        self.cadence = Cadence()
        # Config ETags by MAC, dropped when the station or the site's Wi-Fi changes (a count of those changes
        # keeps a reading that a change overtook from being kept).
        self._etags: dict[str, str] = {}
        self._etag_changes = 0
        journal.registry.views.follow(self._forget_etags)
        self.identities = Identities(journal)
        self.allowances = EventAllowances()

    async def check_in(self, body: object, bearer: str | None, peer: str | None = None) -> dict[str, Any]:
        """Record a check-in and return the answer the contract promises (`peer`: the address it came from)."""
        report = parse_checkin(body)
        key = parse_station_key(body)
        try:
            return await self._check_in(report, await self.identities.identify(report.mac, bearer, key))
        except KeyMismatch as refused:
            await self.identities.claimed_twice(refused.mac, refused.presented, peer)
            raise

    async def _check_in(self, report: CheckIn, caller: Caller) -> dict[str, Any]:
        view = None
        if self._coalescer is not None or self._health is not None:
            view = await self._registry.views.view(report.mac)
            report = self._paced(report, view)
        verdict = None
        if self._health is not None and view is not None and view["status"] == "accepted":
            verdict = self._health.assess(report, set((view["open_alerts"] or "").split(",")) - {""})
        # A key to pin is written at once, never held with the "still here" check-ins.
        quiet = (verdict is None or verdict.quiet) and not (view is not None and pins_now(view, caller))
        commands: list[dict[str, Any]] = []
        if self._coalescer is not None and await self._coalescer.hold(
            report, view, authenticated=caller.authenticated, quiet=quiet
        ):
            assert view is not None
            self._held(report)
            status, token = str(view["status"]), None
        else:

            async def op(log: EventLog) -> tuple[str, str | None, list[dict[str, Any]]]:
                return await self._record(log, report, caller, verdict)

            status, token, commands = await self._journal.write(op)
        # Everything a live table row shows, so that a view never has to fetch the station per check-in.
        self._journal.publish_live(
            "checkin",
            {
                "mac": report.mac,
                "status": status,
                "message": "",
                **{name: getattr(report, name) for name in LIVE_FIELDS if getattr(report, name) is not None},
            },
        )
        answer: dict[str, Any] = {
            "status": status,
            "poll_interval_s": self._policy.poll_interval_s,
            "config_etag": None,
            "commands": commands,
            "ota_path": "/ota",
        }
        if token is not None:
            answer["token"] = token
        if status == "accepted" and (caller.authenticated or token is not None):
            answer["config_etag"] = await self._config_etag(report.mac)
        return answer

    async def polled(self, report: CheckIn) -> None:
        """Record a stock client's poll of /ota (its headers as `report`) as a sign of life of its station.

        A poll proves nothing (anyone on the LAN can send one with any MAC): a station that proves itself at
        check-in (its token, its pinned key) is told by its check-ins alone, and a barred one by nothing.
        """
        view = await self._registry.views.view(report.mac)
        if view is not None:
            proves_itself = (view["token_hash"] and not view["token_unconfirmed"]) or view["key_hash"]
            if view["status"] in ("rejected", "retired") or proves_itself:
                return
            report = self._paced(report, view)
        if self._coalescer is not None and await self._coalescer.hold(report, view, authenticated=False, by_poll=True):
            assert view is not None
            self._held(report)
            status = str(view["status"])
        else:
            status = await self._journal.write(lambda log: self._record_poll(log, report))
        self._journal.publish_live(
            "checkin",
            {
                "mac": report.mac,
                "status": status,
                "message": "",
                **{name: getattr(report, name) for name in LIVE_FIELDS if getattr(report, name) is not None},
            },
        )

    async def enrol(self, body: object, bearer: str | None, peer: str | None = None) -> dict[str, Any]:
        """Record a station announcing itself; answer with its status."""
        answer = await self.check_in(body, bearer, peer)
        return {"status": answer["status"], **({"token": answer["token"]} if "token" in answer else {})}

    async def station_events(self, body: object, bearer: str | None, peer: str | None = None) -> int:
        """Store the events a station reports, within its allowance; return how many."""
        mac, events = parse_station_events(body)
        key = parse_station_key(body)
        if mac is None:
            if bearer is None:
                raise InvalidInput("field 'mac' is required without a bearer token")
            mac = await self._mac_for_bearer(bearer)
        try:
            caller = await self.identities.identify(mac, bearer, key)
        except KeyMismatch as refused:
            await self.identities.claimed_twice(refused.mac, refused.presented, peer)
            raise
        station = await self._registry.stations.get(caller.mac)
        if station is None:
            raise Forbidden("unknown station: check in first")
        _refuse_if_barred(station)
        self.allowances.take(caller.mac, len(events), authenticated=caller.authenticated)

        async def op(log: EventLog) -> int:
            for kind, message in events:
                await log(kind, caller.mac, message, source="station")
            return len(events)

        return await self._journal.write(op)

    def forget(self, mac: str) -> None:
        """Drop what memory holds of a station that was deleted (its pace, its allowance, its signal counts)."""
        self.cadence.forget(mac)
        self.allowances.forget(mac)
        if self._health is not None:
            self._health.forget(mac)

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

    async def _config_etag(self, mac: str) -> str:
        """The ETag of the station's config, from memory until its station or the site's Wi-Fi changes."""
        etag = self._etags.get(mac)
        if etag is None:
            changes = self._etag_changes
            etag = (await self._config_parts(mac))[0]
            if changes == self._etag_changes:
                self._etags[mac] = etag
        return etag

    def _forget_etags(self, macs: frozenset[str]) -> None:
        self._etag_changes += 1
        if site_wide(macs):
            self._etags.clear()
        for mac in macs:
            self._etags.pop(mac, None)

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

    async def station_for_token(self, bearer: str) -> str:
        """The MAC of the station that holds `bearer`; Unauthorized if none, Forbidden if it is barred."""
        mac = await self._mac_for_bearer(bearer)
        _refuse_if_barred(await self._registry.stations.require(mac))
        return mac

    def _held(self, report: CheckIn) -> None:
        """A check-in held in memory: the station's view takes what it changed (the file takes it later)."""
        held = self._registry.checkin_buffer.get(report.mac)
        self._registry.views.seen(
            report.mac,
            last_seen_at=held.at if held is not None else None,
            rssi=report.rssi,
            uptime_s=report.uptime_s,
            free_heap=report.free_heap,
            seen_period_s=report.seen_period_s,
        )

    def _paced(self, report: CheckIn, view: Mapping[str, Any] | None) -> CheckIn:
        """The report with the station's own pace, as its gap since it was last seen teaches it."""
        if view is None:
            return report
        held = self._registry.checkin_buffer.get(report.mac)
        seen = [t for t in (view["last_seen_at"], held.at if held is not None else None) if t is not None]
        gap = self._journal.clock() - max(seen) if seen else None
        period = self.cadence.seen(report.mac, gap, view["seen_period_s"])
        return report if period is None else dataclasses.replace(report, seen_period_s=period)

    async def _record_poll(self, log: EventLog, report: CheckIn) -> str:
        conn, now = log.conn, log.now
        if self._coalescer is not None:
            await self._coalescer.write_station(conn, report.mac)
        if await station_rows.insert_pending(conn, report.mac, now):
            await log(
                "station_discovered",
                report.mac,
                f"new station {report.mac} polled for firmware ({report.ota_client}) and is waiting to be accepted",
                client=report.ota_client,
                **_identity(report),
            )
            if self._removal is not None:
                await self._removal.make_room(log, report.mac)
        before = await _station_in(conn, report.mac)
        if before["status"] in ("rejected", "retired"):
            return str(before["status"])
        await station_rows.apply_report(conn, report, now)
        await _log_changes(log, report, before)
        if report.chip not in (None, before["chip"]) and not (before["chip"] is None and report.chip == "esp8266"):
            # Only a library image the station runs names an ESP32-family chip here (the headers cannot).
            was = f", not an {before['chip']}" if before["chip"] else ""
            await log(
                "station_chip_learned",
                report.mac,
                f"{before['name']} is an {report.chip}{was}: it runs an image of the library built for that chip",
                chip=report.chip,
                previous=before["chip"],
            )
        if before["status"] == "accepted":
            if before["last_seen_at"] is None:
                await arrival.first_check_in(log, report.mac, before["name"])
                await log("station_arrived", report.mac, f"{before['name']} arrived", **_identity(report))
            if self._observer is not None:
                await self._observer.checked_in(log, report, before)
        return str(before["status"])

    async def _mac_for_bearer(self, bearer: str) -> str:
        mac = await self._registry.stations.mac_for_token(hash_token(bearer))
        if mac is None:
            raise Unauthorized("unknown or revoked token")
        return mac

    async def _record(
        self, log: EventLog, report: CheckIn, caller: Caller, verdict: Verdict | None
    ) -> tuple[str, str | None, list[dict[str, Any]]]:
        conn, now = log.conn, log.now
        if self._coalescer is not None:
            await self._coalescer.write_station(conn, report.mac)
        if caller.arriving is not None and caller.token_hash is not None:
            await arrival.arrive_by_token(log, caller.arriving, caller.token_hash, report)
        if await station_rows.insert_pending(conn, report.mac, now):
            await log("station_discovered", report.mac, _discovered_message(report), **_identity(report))
            if self._removal is not None:
                await self._removal.make_room(log, report.mac)
        before = await _station_in(conn, report.mac)
        if before["status"] in ("rejected", "retired"):
            raise Forbidden(f"this station is {before['status']}")
        if not caller.authenticated and before["key_hash"] not in (None, caller.key_hash):
            raise KeyMismatch(report.mac, caller.key_hash)  # another request pinned its key a moment ago
        pinned = pins_now(before, caller)
        if pinned:
            assert caller.key_hash is not None
            await station_rows.pin_key(conn, report.mac, caller.key_hash, now)
            if before["status"] != "pending" or before["last_seen_at"] is not None:
                await log("station_key_pinned", report.mac, f"{before['name']}'s station key is pinned")
        await maybe_insert_checkin(conn, report, now, self._policy.checkin_history_interval_s)
        await station_rows.apply_report(conn, report, now)
        await _log_changes(log, report, before)
        if self._health is not None:
            restart = await self._health.record(log, report, before, verdict)
            if restart is not None and self._commands is not None:
                await self._commands.after_restart(log, restart, before["version"], report.version)
        if self._observer is not None and before["status"] == "accepted":
            await self._observer.checked_in(log, report, before)
        token = None
        if caller.authenticated and before["token_unconfirmed"]:
            await station_rows.confirm_token(conn, report.mac)
        if not (caller.authenticated or caller.proven or pinned) and before["token_unconfirmed"]:
            await unproven_again(log, report.mac, before["name"], report.ip)
        elif may_have_token(before, caller, pinned):
            # Accepted, token-less and proven (or at its first contact): issue one, also when the answer that
            # carried the last one was lost.
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
        commands = []
        proven = caller.authenticated or caller.proven or token is not None
        if self._commands is not None and before["status"] == "accepted" and proven:
            commands = await self._commands.deliver(log, report.mac)
        return str(before["status"]), token, commands


async def _station_in(conn: Any, mac: str) -> dict[str, Any]:
    async with conn.execute(
        "SELECT name, status, token_unconfirmed, last_seen_at, uptime_s, version, project, chip,"
        " token_hash IS NOT NULL, restart_cause, key_hash FROM stations WHERE mac = ?",
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
        "chip",
        "has_token",
        "restart_cause",
        "key_hash",
    )
    return dict(zip(names, row, strict=True))


async def _log_changes(log: EventLog, report: CheckIn, before: dict[str, Any]) -> None:
    name = before["name"]
    if report.uptime_s is not None and before["uptime_s"] is not None and report.uptime_s < before["uptime_s"]:
        cause = normalise_restart(report.chip or before["chip"], report.reset_reason, report.restart_cause)
        said = (
            f", it said {report.restart_cause!r}" if report.restart_cause and report.restart_cause != cause.word else ""
        )
        await log(
            "station_restarted",
            report.mac,
            f"{name} restarted ({cause.word}{said})",
            cause=cause.word,
            restart_kind=cause.kind,
            reset_reason=report.reset_reason,
            firmware_cause=report.restart_cause,
        )
    # The first version told of a station seen before is news too (a stock sketch is known by its digest).
    known = before["version"] is not None or before["last_seen_at"] is not None
    if report.version is not None and report.version != before["version"] and known:
        was = f" (was {before['version']})" if before["version"] is not None else ""
        await log(
            "version_changed",
            report.mac,
            f"{name} now runs {report.version}{was}",
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
