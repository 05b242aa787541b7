"""The command queue: the admin sends, the station's next check-in delivers, the station answers, the unheard expire."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from appliance.contract.events import EventKind
from services.core.errors import Conflict, InvalidInput, NeedsConfirmation, NotFound
from services.core.macaddr import parse_mac
from services.core.models import Command, CommandState, Restart
from services.domain.commands.kinds import CRITICAL_TAG, RESTARTING_KINDS, parse_args, parse_kind
from services.store.journal import EventLog, Journal
from services.store.registry import commands as rows

# What a station may report about a command it was given.
STATION_STATES: tuple[CommandState, ...] = ("running", "succeeded", "failed")
MIN_TTL_S, MAX_TTL_S = 1, 30 * 86400
MAX_RESULT = 256


class CommandQueue:
    """Commands for stations, from the admin's send to the station's answer (or its expiry)."""

    def __init__(self, journal: Journal, default_ttl_s: float = 86400) -> None:
        self._journal = journal
        self._registry = journal.registry
        self.default_ttl_s = default_ttl_s

    async def send(
        self, mac: object, kind: object, args: object = None, *, ttl_s: object = None, force: object = False
    ) -> Command:
        """Queue a command for an accepted station; a critical one is restarted only with `force`."""
        if not isinstance(mac, str):
            raise InvalidInput("'station' must be a MAC address")
        if not isinstance(force, bool):
            raise InvalidInput("'force' must be true or false")
        name = parse_kind(kind)
        arguments = parse_args(name, args)
        ttl = self._ttl(ttl_s)
        station = await self._registry.stations.require(parse_mac(mac))
        if station.status != "accepted":
            raise Conflict(f"{station.name} is {station.status}: only accepted stations take commands")
        if name in RESTARTING_KINDS and CRITICAL_TAG in station.tags and not force:
            raise NeedsConfirmation(
                f"{station.name} is tagged {CRITICAL_TAG}: {name} may restart it;"
                " send it again with force (--force) if you mean it"
            )

        async def op(log: EventLog) -> Command:
            command = await rows.insert(
                log.conn, mac=station.mac, kind=name, args=arguments, now=log.now, ttl_s=ttl, forced=force
            )
            forced = " (forced past the critical tag)" if force and CRITICAL_TAG in station.tags else ""
            await log(
                "command_queued",
                station.mac,
                f"{_what(command)} queued for {station.name}{forced}; delivered at its next check-in",
                **_data(command),
            )
            return command

        return await self._journal.write(op)

    async def cancel(self, command_id: int) -> Command:
        """Cancel a command the station has not finished (it may already have started one that was delivered)."""
        command = await self._registry.commands.require(command_id)

        async def op(log: EventLog) -> None:
            current = await rows.read(log.conn, command_id)
            if current is None or current.state not in ("queued", "delivered", "running"):
                state = "gone" if current is None else current.state
                raise Conflict(f"command {command_id} is already {state}")
            await rows.set_state(log.conn, command_id, "cancelled", now=log.now, result="cancelled by the admin")
            await log("command_cancelled", command.mac, f"{_what(command)} cancelled", **_data(command))

        await self._journal.write(op)
        return await self._registry.commands.require(command_id)

    async def deliver(self, log: EventLog, mac: str) -> list[dict[str, Any]]:
        """Inside a check-in's write: the commands its answer carries (delivered ones again until answered)."""
        carried = []
        for command in await rows.open_for(log.conn, mac):
            if command.expires_at <= log.now:
                await self._expire(log, command)
            elif command.state == "queued":
                await rows.set_state(log.conn, command.id, "delivered", now=log.now)
                await log("command_delivered", mac, f"{_what(command)} delivered", **_data(command))
                carried.append(command)
            elif command.state == "delivered":
                carried.append(command)  # the answer that carried it may have been lost: the id lets firmware skip it
        return [{"id": c.id, "kind": c.kind, "args": c.args} for c in carried]

    async def report(self, mac: str, command_id: object, body: object) -> Command:
        """A station's answer about one of its commands: running, succeeded or failed, with a message."""
        if not isinstance(command_id, int) or isinstance(command_id, bool):
            raise InvalidInput("a command id is a whole number")
        if not isinstance(body, Mapping):
            raise InvalidInput("body must be a JSON object")
        state = body.get("status")
        if state not in STATION_STATES:
            raise InvalidInput(f"'status' must be one of {', '.join(STATION_STATES)}")
        message = body.get("message")
        if message is not None and (not isinstance(message, str) or len(message) > MAX_RESULT):
            raise InvalidInput(f"'message' must be a string of at most {MAX_RESULT} characters")
        if message is not None and any(ord(ch) < 32 for ch in message):
            raise InvalidInput("'message' contains control characters")

        async def op(log: EventLog) -> Command:
            command = await rows.read(log.conn, command_id)
            if command is None or command.mac != mac:
                raise NotFound(f"no command {command_id} for this station")
            if command.state == state:
                return command  # a repeated answer (the first one's reply was lost): nothing changes
            if command.state not in ("delivered", "running"):
                raise Conflict(f"command {command_id} is already {command.state}")
            await rows.set_state(log.conn, command.id, state, now=log.now, result=message)
            said = f": {message}" if message else ""
            await log(_EVENT[state], mac, f"{_what(command)} {_PAST[state]}{said}", **_data(command))
            return command

        await self._journal.write(op)
        return await self._registry.commands.require(command_id)

    async def after_restart(self, log: EventLog, restart: Restart, before: str | None, now: str | None) -> None:
        """In a check-in's write: a restart completes a reboot, or an update if the version moved on from `before`."""
        for command in await rows.open_for(log.conn, restart.mac):
            if command.state == "queued" or command.kind not in RESTARTING_KINDS:
                continue
            if command.kind == "reboot":
                state: CommandState = "succeeded"
                result = f"restarted ({restart.cause})"
            elif now is not None and now != before:
                state, result = "succeeded", f"updated to {now} and restarted"
            else:
                continue  # an update that restarted without a new version is the station's to report
            await rows.set_state(log.conn, command.id, state, now=log.now, result=result)
            await log(_EVENT[state], restart.mac, f"{_what(command)} {_PAST[state]}: {result}", **_data(command))

    async def expire_due(self) -> int:
        """Expire every command whose time-to-live ran out; return how many (a read alone when none is due)."""
        if not await self._registry.commands.any_due(self._journal.clock()):
            return 0  # checked often: a write (and an fsync) only when there is something to expire

        async def op(log: EventLog) -> int:
            due = await rows.due_to_expire(log.conn, log.now)
            for command in due:
                await self._expire(log, command)
            return len(due)

        return await self._journal.write(op)

    async def _expire(self, log: EventLog, command: Command) -> None:
        why = {
            "queued": "never delivered: the station did not check in before it expired",
            "delivered": "delivered, but the station never answered",
            "running": "started, but the station never said how it ended",
        }[command.state]
        await rows.set_state(log.conn, command.id, "expired", now=log.now, result=why)
        await log("command_expired", command.mac, f"{_what(command)} expired, {why}", **_data(command))

    def _ttl(self, value: object) -> float:
        if value is None:
            return self.default_ttl_s
        if isinstance(value, bool) or not isinstance(value, int | float) or not MIN_TTL_S <= value <= MAX_TTL_S:
            raise InvalidInput(f"'ttl_s' must be a number of seconds from {MIN_TTL_S} to {MAX_TTL_S}")
        return float(value)


_PAST = {"running": "started", "succeeded": "succeeded", "failed": "failed"}
_EVENT: dict[str, EventKind] = {
    "running": "command_running",
    "succeeded": "command_succeeded",
    "failed": "command_failed",
}


def _what(command: Command) -> str:
    return f"command {command.id} ({command.kind})"


def _data(command: Command) -> dict[str, Any]:
    return {"command_id": command.id, "command": command.kind}
