"""The station screen's commands: reboot, update now, refresh config, identify or any word (critical asks first)."""

from __future__ import annotations

import shlex
from typing import Any

from textual.screen import Screen

from appliance.contract.client import AdminClient, AdminError
from tui.dialogs import Ask, Confirm, one_at_a_time


class CommandActions(Screen[None]):
    """Actions that queue a command for the screen's station (delivered at its next check-in)."""

    client: AdminClient
    mac: str
    station: dict[str, Any]

    @one_at_a_time("detail-action")
    async def action_reboot(self) -> None:
        """Reboot, after confirmation."""
        question = f"Reboot {self.station.get('name')} ({self.mac})?"
        detail = "The command is delivered at its next check-in; it restarts then."
        if await self.app.push_screen_wait(Confirm(question, detail, yes="Reboot")):
            await self._send("reboot")

    @one_at_a_time("detail-action")
    async def action_update_now(self) -> None:
        """Ask the station to poll for its firmware now."""
        await self._send("update_now")

    @one_at_a_time("detail-action")
    async def action_refresh_config(self) -> None:
        """Ask the station to fetch its config now."""
        await self._send("refresh_config")

    @one_at_a_time("detail-action")
    async def action_identify(self) -> None:
        """Ask the station to blink so someone on site can find it."""
        await self._send("identify", {"seconds": 30})

    @one_at_a_time("detail-action")
    async def action_custom_command(self) -> None:
        """Any command: a word and NAME=VALUE arguments, for custom firmware."""
        question = f"Command for {self.station.get('name')} (a word, then NAME=VALUE arguments)"
        text = await self.app.push_screen_wait(Ask(question, placeholder="set_led colour=red"))
        if not text:
            return
        try:
            kind, *pairs = shlex.split(text)
        except ValueError as exc:
            self.notify(str(exc), title="Not a command", severity="error")
            return
        args = {}
        for pair in pairs:
            name, equals, value = pair.partition("=")
            if not equals:
                self.notify(f"arguments are NAME=VALUE, not {pair!r}", title="Not a command", severity="error")
                return
            args[name] = value
        await self._send(kind, args)

    async def _send(self, kind: str, args: dict[str, Any] | None = None) -> None:
        try:
            command = await self.client.send_command(self.mac, kind, args)
        except AdminError as exc:
            if exc.code != "confirmation_required":
                self.notify(exc.message, title="Refused", severity="error")
                return
            # A critical station: only the admin's explicit say sends it.
            question = f"{kind} {self.station.get('name')} ({self.mac}) anyway?"
            if not await self.app.push_screen_wait(Confirm(question, exc.message, yes=f"{kind} it")):
                return
            try:
                command = await self.client.send_command(self.mac, kind, args, force=True)
            except AdminError as again:
                self.notify(again.message, title="Refused", severity="error")
                return
        self.notify(
            f"command {command['id']} ({command['kind']}) for {self.station.get('name')} queued:"
            " delivered at its next check-in"
        )
        reload = getattr(self, "reload", None)
        if callable(reload):
            reload()
