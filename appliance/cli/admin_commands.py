"""The admin commands: thin clients of the admin API, a table for people and `--json` for scripts."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from appliance.cli import target, views
from appliance.config import ConfigError
from appliance.contract.client import AdminClient, AdminError, ServiceUnavailable
from appliance.contract.stream import CompactStream
from appliance.remote import ForwardError, SshForward

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_INTERRUPTED = 130

Fetch = Callable[[AdminClient, argparse.Namespace], Awaitable[Any]]
Show = Callable[[Any, argparse.Namespace], None]


_STATUS_CHANGES = (
    ("accept", "let a pending station in (it gets its token at its next check-in)"),
    ("reject", "turn a station away"),
    ("retire", "retire a station that has left the site"),
)


class UsageError(Exception):
    """The command cannot be sent as given (e.g. an unreadable file); exit 2."""


def add_parsers(commands: Any) -> None:
    """Add every admin command to the `stationmaster` parser's subcommands."""
    _leaf(commands.add_parser("status", help="the service's version, uptime and station counts"), _status, views.status)

    stations = commands.add_parser("stations", help="list stations, or act on one")
    _leaf(stations, _listed("stations"), views.stations)
    actions = stations.add_subparsers(dest="station_command", metavar="ACTION")
    show = actions.add_parser("show", help="one station in full")
    show.add_argument("mac")
    _leaf(show, lambda c, a: c.station(a.mac), views.station)
    for verb, what in _STATUS_CHANGES:
        sub = actions.add_parser(verb, help=what)
        sub.add_argument("mac")
        _leaf(sub, _call(verb, "mac"), views.station)
    delete = actions.add_parser(
        "delete", help="delete a station with its history (a device that checks in again comes back pending)"
    )
    delete.add_argument("mac")
    _leaf(delete, _call("delete_station", "mac"), views.deleted_station)
    rename = actions.add_parser("rename", help="rename a station")
    rename.add_argument("mac")
    rename.add_argument("name")
    _leaf(rename, lambda c, a: c.rename(a.mac, a.name), views.station)
    set_chip = actions.add_parser("set-chip", help="say which chip a station is (ESP32-family stock clients do not)")
    set_chip.add_argument("mac")
    set_chip.add_argument("chip", help="esp8266, esp32, esp32s2, esp32s3, esp32c3, esp32c6, ...")
    _leaf(set_chip, lambda c, a: c.set_chip(a.mac, a.chip), views.station)
    tag = actions.add_parser("tag", help="tag a station (or --remove the tag)")
    tag.add_argument("mac")
    tag.add_argument("tag")
    tag.add_argument("--remove", action="store_true", help="remove the tag instead")
    _leaf(tag, _tag, views.station)

    firmware = commands.add_parser("firmware", help="the firmware library")
    library = firmware.add_subparsers(dest="firmware_command", required=True, metavar="ACTION")
    imp = library.add_parser("import", help="validate and store an image file")
    imp.add_argument("file", type=Path)
    imp.add_argument("--version", dest="image_version", help="the version, for images that do not say (ESP8266)")
    imp.add_argument("--project", help="the project name, for images that do not say (ESP8266)")
    _leaf(imp, _import, views.imported)
    _leaf(library.add_parser("list", help="every image"), _listed("images"), views.images)
    show_image = library.add_parser("show", help="one image, by a unique SHA-256 prefix")
    show_image.add_argument("prefix")
    _leaf(show_image, _call("image", "prefix"), views.image)
    delete = library.add_parser("delete", help="delete an unassigned image, by a unique SHA-256 prefix")
    delete.add_argument("prefix")
    _leaf(delete, _delete_image, lambda _, a: print(f"deleted {a.prefix}"))

    assign = commands.add_parser("assign", help="assign an image to a station or a tag")
    assign.add_argument("image", help="a unique SHA-256 prefix (at least 6 hex digits)")
    target = assign.add_mutually_exclusive_group(required=True)
    target.add_argument("--station", metavar="MAC")
    target.add_argument("--tag")
    _leaf(assign, lambda c, a: c.assign(a.image, station=a.station, tag=a.tag), views.assigned)
    _leaf(commands.add_parser("assignments", help="every assignment"), _listed("assignments"), views.assignments)
    unassign = commands.add_parser("unassign", help="remove an assignment")
    unassign.add_argument("id", type=positive_int)
    _leaf(unassign, _unassign, lambda _, a: print(f"removed assignment {a.id}"))

    lan = commands.add_parser("lan", help="the ESP devices mDNS shows on the site's LAN (or push to one)")
    _leaf(lan, _listed("lan", "services"), views.lan)
    lan_actions = lan.add_subparsers(dest="lan_command", metavar="ACTION")
    push = lan_actions.add_parser("push", help="push an image to an ArduinoOTA station")
    push.add_argument("address", help="the station's IPv4 address (see `stationmaster lan`)")
    push.add_argument("image", help="a unique SHA-256 prefix")
    push.add_argument("--port", type=positive_int, help="its OTA port (default 8266 for ESP8266, 3232 for ESP32)")
    push.add_argument(
        "--password", action="store_true", help="the station has an OTA password: ask for it (or read it from stdin)"
    )
    _leaf(push, _lan_push, views.pushed)

    events = commands.add_parser("events", help="the event log (or --follow it live)")
    events.add_argument("--station", metavar="MAC", help="only this station's events")
    events.add_argument("--kind", help="only events of this kind, e.g. station_accepted")
    events.add_argument("--limit", type=positive_int, default=50, help="how many past events (default 50)")
    events.add_argument("--follow", action="store_true", help="keep printing new events until Ctrl-C")
    _leaf(events, _events, views.events)


def run(args: argparse.Namespace) -> int:
    """Run the admin command in `args` against the service; return the exit code."""
    fetch: Fetch | None = getattr(args, "fetch", None)
    if fetch is None:
        return _no_command(args)
    show: Show = args.show
    try:
        with target.reach(target.choose(args)) as (socket_path, forward):
            try:
                result = asyncio.run(_with_client(socket_path, fetch, args, forward))
            except ServiceUnavailable as exc:
                raise _from_afar(exc, forward) from None
    except (ConfigError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ForwardError as exc:
        print(exc, file=sys.stderr)
        return EXIT_UNREACHABLE
    except ServiceUnavailable as exc:
        print(exc.message, file=sys.stderr)
        return EXIT_UNREACHABLE
    except AdminError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        # Ctrl-C is how `events --follow` is meant to end; anything else was cut short.
        return EXIT_OK if getattr(args, "follow", False) else EXIT_INTERRUPTED
    if args.json:
        if result is not None:
            print(json.dumps(result, indent=2, sort_keys=True))
    else:
        show(result, args)
    return EXIT_OK


def open_tui(args: argparse.Namespace) -> int:
    """Bare `stationmaster` on a terminal: the TUI, attached to the running service (here, or over SSH)."""

    async def status(client: AdminClient, _: argparse.Namespace) -> Any:
        return await client.status()

    try:
        chosen = target.choose(args)
        if chosen.destination is not None:
            # Over 3G an SSH handshake takes seconds: say what is happening meanwhile.
            print(f"Reaching {chosen.destination} over SSH…", file=sys.stderr)
        with target.reach(chosen) as (socket_path, forward):
            try:
                asyncio.run(_with_client(socket_path, status, args, forward))
            except ServiceUnavailable as exc:
                raise _from_afar(exc, forward) from None
            from tui.app import StationmasterApp  # the TUI only when a person opens it: scripts stay light

            StationmasterApp(socket_path, forward).run()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ForwardError as exc:
        print(exc, file=sys.stderr)
        return EXIT_UNREACHABLE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED  # Ctrl-C at ssh's passphrase prompt, before the TUI took the terminal
    except AdminError as exc:
        print(exc.message, file=sys.stderr)
        if chosen.destination is None:
            print(
                "(or `stationmaster run` for the service and the TUI in one process, "
                "`stationmaster demo` to try it with simulated stations)",
                file=sys.stderr,
            )
        return EXIT_UNREACHABLE
    return EXIT_OK


def _no_command(args: argparse.Namespace) -> int:
    """Bare `stationmaster`: one line on the service (the TUI will live here), after the help."""

    async def status(client: AdminClient, _: argparse.Namespace) -> Any:
        return await client.status()

    try:
        with target.reach(target.choose(args)) as (socket_path, forward):
            info = asyncio.run(_with_client(socket_path, status, args, forward))
    except (ConfigError, ForwardError) as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return EXIT_OK
    except AdminError as exc:
        print(f"\n{exc.message}", file=sys.stderr)
        return EXIT_OK
    print()
    views.status(info, args)
    return EXIT_OK


async def _with_client(socket_path: Path, fetch: Fetch, args: argparse.Namespace, forward: SshForward | None) -> Any:
    async with AdminClient(socket_path, afar=None if forward is None else str(forward.destination)) as client:
        return await fetch(client, args)


def _from_afar(exc: ServiceUnavailable, forward: SshForward | None) -> ServiceUnavailable:
    """Over SSH the local socket means nothing to the admin: say where the appliance is, and what ssh said."""
    if forward is None:
        return exc
    said = forward.said()
    return ServiceUnavailable(
        forward.local_socket,
        f"the forward to {forward.destination} is up, but nothing answered on {forward.remote_socket} there"
        + (f" (ssh: {said})" if said else "")
        + f"; is the service running (`ssh {forward.destination} systemctl status stationmaster`), is your user"
        " there in the stationmaster group, and does its sshd forward unix sockets (AllowStreamLocalForwarding)?",
    )


def _leaf(parser: argparse.ArgumentParser, fetch: Fetch, show: Show) -> None:
    """Make `parser` a runnable command: what it asks the service, how it shows the answer."""
    parser.add_argument("--json", action="store_true", help="print the API's JSON instead of a table")
    # Also accepted after the command; SUPPRESS keeps it from hiding the global flag when absent.
    parser.add_argument("--admin-socket", type=Path, default=argparse.SUPPRESS, help="the service's admin socket")
    target.add_flags(parser, default=argparse.SUPPRESS)
    parser.set_defaults(fetch=fetch, show=show)


def _call(method: str, argument: str | None = None) -> Fetch:
    """A command that is one client call, with at most one positional argument."""

    async def fetch(client: AdminClient, args: argparse.Namespace) -> Any:
        call = getattr(client, method)
        return await (call(getattr(args, argument)) if argument else call())

    return fetch


def _listed(method: str, key: str | None = None) -> Fetch:
    """A listing command: the client unwraps the list, --json shows the API's object around it."""

    async def fetch(client: AdminClient, _: argparse.Namespace) -> Any:
        return {key or method: await getattr(client, method)()}

    return fetch


async def _lan_push(client: AdminClient, args: argparse.Namespace) -> Any:
    # The password never comes from the command line, where `ps` and the shell history would keep it.
    password = _read_secret("OTA password: ") if args.password else None
    return await client.lan_push(args.address, args.image, port=args.port, password=password)


def _read_secret(prompt: str) -> str:
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    return sys.stdin.readline().rstrip("\n")


# For the topic modules (onboard_commands, wifi_commands) that add their own commands the same way.
leaf = _leaf
read_secret = _read_secret


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


async def _status(client: AdminClient, _: argparse.Namespace) -> Any:
    return await client.status()


async def _tag(client: AdminClient, args: argparse.Namespace) -> Any:
    if args.remove:
        return await client.tag(args.mac, remove=[args.tag])
    return await client.tag(args.mac, add=[args.tag])


async def _import(client: AdminClient, args: argparse.Namespace) -> Any:
    path: Path = args.file
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    return await client.import_image(data, path.name, project=args.project, version=args.image_version)


async def _delete_image(client: AdminClient, args: argparse.Namespace) -> Any:
    await client.delete_image(args.prefix)
    return {"deleted": args.prefix}


async def _unassign(client: AdminClient, args: argparse.Namespace) -> Any:
    await client.unassign(args.id)
    return {"removed": args.id}


async def _events(client: AdminClient, args: argparse.Namespace) -> Any:
    found = await client.events(mac=args.station, kind=args.kind, limit=args.limit)
    if not args.follow:
        return {"events": found}
    # Following prints as it goes, oldest first: one JSON object a line with --json, so it can be piped.
    for event in reversed(found):
        views.follow(event, args)
    # Across a slow link the compact stream: batched, deflated, check-ins as what changed.
    messages = client.follow(CompactStream()) if client.afar else client.stream_events()
    async for message in messages:
        # Live check-ins carry no id: they are not events, only the heartbeat of the TUI.
        if message.get("id") is None:
            continue
        if args.station and not views.same_mac(message.get("mac"), args.station):
            continue
        if args.kind and message.get("kind") != args.kind:
            continue
        views.follow(message, args)
    raise ServiceUnavailable(client.socket_path, f"the service on {client.socket_path} stopped; no more events")
