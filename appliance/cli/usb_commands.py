"""`stationmaster usb …`: the serial ports plugged into the appliance, and flashing or Improv on one."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from appliance.cli import views
from appliance.contract.client import AdminClient, AdminError, ServiceUnavailable

JSON = dict[str, Any]
# Phases in which a job is still running on the port: the command follows it until it leaves them.
BUSY = ("identifying", "flashing", "waiting", "joining")
_CONNECT_S = 10.0


def add_parsers(commands: Any) -> None:
    """Add `usb` and its actions to the `stationmaster` parser's subcommands."""
    usb = commands.add_parser("usb", help="stations plugged into the appliance's USB ports: identify, flash, Wi-Fi")
    _leaf(usb, _ports, show_ports)
    actions = usb.add_subparsers(dest="usb_command", metavar="ACTION")
    _leaf(actions.add_parser("list", help="every serial port plugged in, and what answered on it"), _ports, show_ports)

    identify = actions.add_parser("identify", help="ask again what is on a port (Improv, then the ROM bootloader)")
    identify.add_argument("port", help="its name (ttyUSB0) or path")
    _waiting(identify)
    _leaf(identify, _identify, show_port)

    flash = actions.add_parser(
        "flash", help="flash firmware and a new station's config (name, token, site Wi-Fi) onto the chip on a port"
    )
    flash.add_argument("port", help="its name (ttyUSB0) or path")
    flash.add_argument("--name", required=True, help="the new station's name, e.g. STA2")
    flash.add_argument("--firmware", required=True, metavar="PREFIX", help="the image: a unique SHA-256 prefix")
    flash.add_argument(
        "--replace", action="store_true", help="take the place of a station known by that name or MAC (new token)"
    )
    _waiting(flash)
    _leaf(flash, _flash, show_port)

    wifi = actions.add_parser("wifi", help="hand the site Wi-Fi to a station whose firmware speaks Improv")
    wifi.add_argument("port", help="its name (ttyUSB0) or path")
    wifi.add_argument("--ssid", help="which site network (default: the first by priority)")
    _waiting(wifi)
    _leaf(wifi, _wifi, show_port)


def show_ports(answer: JSON, _: argparse.Namespace) -> None:
    """The port list."""
    found = answer["ports"]
    if not found:
        print("no USB serial ports: plug a station into the appliance (the ports watched are [usb] ports)")
        return
    rows = [
        [
            p["name"] + ("" if p["present"] else " (gone)"),
            p["phase"],
            p["chip"] or "-",
            p["mac"] or "-",
            (p.get("station") or {}).get("name") or "-",
            p["message"],
        ]
        for p in found
    ]
    views.table(["PORT", "STATE", "CHIP", "MAC", "STATION", "WHAT"], rows)


def show_port(port: JSON, _: argparse.Namespace) -> None:
    """One port: where it got to."""
    print(f"{port['name']}: {port['message']}")


async def _ports(client: AdminClient, _: argparse.Namespace) -> Any:
    return {"ports": await client.usb_ports()}


async def _identify(client: AdminClient, args: argparse.Namespace) -> Any:
    return await _follow(client, args, lambda: client.usb_identify(args.port))


async def _flash(client: AdminClient, args: argparse.Namespace) -> Any:
    return await _follow(
        client, args, lambda: client.usb_flash(args.port, args.name, args.firmware, replace=args.replace)
    )


async def _wifi(client: AdminClient, args: argparse.Namespace) -> Any:
    return await _follow(client, args, lambda: client.usb_wifi(args.port, args.ssid))


async def _follow(client: AdminClient, args: argparse.Namespace, start: Callable[[], Awaitable[JSON]]) -> JSON:
    """Start a job and print its progress until the port is done; a failed job is a refusal (exit 1)."""
    if args.no_wait:
        return await start()
    messages: asyncio.Queue[JSON | None] = asyncio.Queue()
    connected = asyncio.Event()

    async def pump() -> None:
        try:
            async for message in client.stream_events(on_connect=connected.set):
                await messages.put(message)
        finally:
            await messages.put(None)  # the stream ended: the service went away

    # Listen first, then start: a quick job must not finish before anyone is listening.
    listener = asyncio.create_task(pump())
    try:
        await asyncio.wait_for(_either(connected.wait(), listener), _CONNECT_S)
        if listener.done():
            listener.result()
        port = await start()
        said = port["message"]
        while port["phase"] in BUSY:
            message = await messages.get()
            if message is None:
                raise ServiceUnavailable(client.socket_path, "the service stopped while the job was running")
            if message.get("port") != port["path"]:
                continue
            if str(message.get("kind", "")).endswith("_progress"):
                _note(args, message["message"])
            elif message.get("kind") == "usb_port_changed":
                port = await client.usb_port(port["name"])
                if port["message"] != said and "%" not in port["message"]:
                    said = port["message"]
                    _note(args, f"{port['name']}: {said}")
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await listener
    if port["phase"] == "failed":
        raise AdminError("failed", f"{port['name']}: {port['message']}", 0)
    return port


async def _either(waiting: Awaitable[Any], task: asyncio.Task[None]) -> None:
    waiter = asyncio.ensure_future(waiting)
    done, _ = await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
    if waiter not in done:
        waiter.cancel()


def _note(args: argparse.Namespace, text: str) -> None:
    """Progress goes to stderr, so that stdout holds only the outcome (or the JSON)."""
    if not args.json:
        print(text, file=sys.stderr, flush=True)


def _waiting(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-wait", action="store_true", help="return once the job has started (follow it with `usb list`)"
    )


def _leaf(parser: argparse.ArgumentParser, fetch: Callable[..., Awaitable[Any]], show: Callable[..., None]) -> None:
    """Make `parser` a runnable command, as the other admin commands are."""
    parser.add_argument("--json", action="store_true", help="print the API's JSON instead of a table")
    parser.add_argument("--admin-socket", type=Path, default=argparse.SUPPRESS, help="the service's admin socket")
    parser.set_defaults(fetch=fetch, show=show)
