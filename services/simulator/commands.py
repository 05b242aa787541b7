"""How simulated firmware obeys the commands a check-in answer carries, and answers for each, as the contract says."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import aiohttp

from services.simulator.answers import ContractError, json_answer

if TYPE_CHECKING:
    from services.simulator.station import SimulatedStation

log = logging.getLogger(__name__)

# The SDK's reset code each of the simulator's restart words comes with, per family: what a real station reads
# from rst_info.reason (ESP8266) or esp_reset_reason() (ESP32) and sends beside its own word.
_RESET_CODES = {
    "esp8266": {"power_on": 0, "watchdog": 1, "exception": 2, "panic": 2, "brownout": 0, "ota": 4, "user": 4},
    "esp32": {"power_on": 1, "watchdog": 7, "exception": 4, "panic": 4, "brownout": 9, "ota": 3, "user": 3},
}


def reset_code(chip: str, cause: str) -> int | None:
    """The numeric reset reason a station of `chip` reports after restarting for `cause` (the ESP8266 has no
    brownout detector: a dip resets it as a power-on)."""
    return _RESET_CODES["esp8266" if chip == "esp8266" else "esp32"].get(cause)


def carried_commands(answer: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The commands in a check-in answer, checked against the contract."""
    commands = [] if answer is None else answer.get("commands") or []
    if not isinstance(commands, list):
        raise ContractError("check-in answer: 'commands' is not a list")
    for command in commands:
        if (
            not isinstance(command, dict)
            or not isinstance(command.get("id"), int)
            or not isinstance(command.get("kind"), str)
            or not isinstance(command.get("args", {}), dict)
        ):
            raise ContractError(f"check-in answer carries a malformed command: {str(command)[:200]}")
    return commands


async def obey(station: SimulatedStation, session: aiohttp.ClientSession, command: dict[str, Any]) -> None:
    """Run one command once (its id is remembered, as firmware keeps it in RTC memory) and answer for it."""
    command_id, kind, args = command["id"], command["kind"], command.get("args") or {}
    if command_id in station.commands_done:
        return  # delivered again because our answer was lost: do not run it twice
    station.commands_done.add(command_id)
    station.stats.commands += 1
    if kind == "reboot":
        await answer(station, session, command_id, "running", "rebooting")
        station.reboot("user")  # the appliance sees the restart at the next check-in
    elif kind == "update_now":
        await answer(station, session, command_id, "running", "checking for an update")
        result = await station.poll_ota(session)
        if result.outcome == "no_update":
            await answer(station, session, command_id, "succeeded", "no update: already up to date (304)")
        elif result.outcome != "downloaded":
            await answer(station, session, command_id, "failed", result.reason or result.outcome)
        # downloaded: the station restarts into it, and the appliance tells success from the new version
    elif kind == "refresh_config":
        await station.fetch_config(session, force=True)
        await answer(station, session, command_id, "succeeded", f"config {station.config_etag} applied")
    elif kind == "identify":
        seconds = args.get("seconds", 10)
        await station.report(session, "message", f"identify: blinking the LED for {seconds} s")
        await answer(station, session, command_id, "succeeded", f"blinked for {seconds} s")
    else:
        await answer(station, session, command_id, "failed", f"this firmware does not know the command {kind!r}")


async def answer(
    station: SimulatedStation, session: aiohttp.ClientSession, command_id: int, status: str, message: str
) -> None:
    """POST /api/v1/commands/<id> with the station's token."""
    body = {"status": status, "message": message[:256]}
    async with session.post(f"/api/v1/commands/{command_id}", json=body, headers=station.headers()) as response:
        await json_answer(response, "command answer", 200, station.stats)
