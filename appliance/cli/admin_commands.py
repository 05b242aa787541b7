"""The admin commands: thin clients of the admin API, a table for people and `--json` for scripts."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from appliance.cli.tables import event_line, image_rows, print_table, station_detail, station_rows
from appliance.config import default_admin_socket
from appliance.contract.client import AdminClient, AdminError, ServiceUnavailable

EXIT_REFUSED = 1
EXIT_UNREACHABLE = 3
Action = Callable[[AdminClient, argparse.Namespace], Awaitable[Any]]


def add_parsers(commands: Any) -> None:
    """Add every admin command to the `stationmaster` parser."""
    status = commands.add_parser("status", help="the service's version, uptime and station counts")
    _json_flag(status, _status)

    stations = commands.add_parser("stations", help="list stations, or act on one")
    _json_flag(stations, _list_stations)
    actions = stations.add_subparsers(dest="station_command", metavar="ACTION")
    show = actions.add_parser("show", help="one station in full")
    show.add_argument("mac")
    _json_flag(show, _show_station)
    for verb in ("accept", "reject", "retire"):
        sub = actions.add_parser(verb, help=f"{verb} a station")
        sub.add_argument("mac")
        _json_flag(sub, _status_action(verb))
    rename = actions.add_parser("rename", help="rename a station")
    rename.add_argument("mac")
    rename.add_argument("name")
    _json_flag(rename, lambda c, a: c.rename(a.mac, a.name))
    tag = actions.add_parser("tag", help="tag a station (or --remove the tag)")
    tag.add_argument("mac")
    tag.add_argument("tag")
    tag.add_argument("--remove", action="store_true")
    _json_flag(tag, lambda c, a: c.tag(a.mac, remove=[a.tag]) if a.remove else c.tag(a.mac, add=[a.tag]))

    firmware = commands.add_parser("firmware", help="the firmware library")
    fw = firmware.add_subparsers(dest="firmware_command", required=True, metavar="ACTION")
    imp = fw.add_parser("import", help="validate and store an image file")
    imp.add_argument("file", type=Path)
    imp.add_argument("--version", dest="image_version", help="the version, for images that do not say (ESP8266)")
    imp.add_argument("--project", help="the project name, for images that do not say (ESP8266)")
    _json_flag(imp, _import)
    _json_flag(fw.add_parser("list", help="every image"), _list_images)
    for verb, action in (("show", _show_image), ("delete", _delete_image)):
        sub = fw.add_parser(verb, help=f"{verb} an image by SHA-256 prefix")
        sub.add_argument("prefix")
        _json_flag(sub, action)

    assign = commands.add_parser("assign", help="assign an image to a station or a tag")
    assign.add_argument("image", help="a unique SHA-256 prefix")
    target = assign.add_mutually_exclusive_group(required=True)
    target.add_argument("--station", metavar="MAC")
    target.add_argument("--tag")
    _json_flag(assign, lambda c, a: c.assign(a.image, station=a.station, tag=a.tag))
    _json_flag(commands.add_parser("assignments", help="every assignment"), _list_assignments)
    unassign = commands.add_parser("unassign", help="remove an assignment")
    unassign.add_argument("id", type=int)
    _json_flag(unassign, lambda c, a: c.unassign(a.id))

    _json_flag(commands.add_parser("lan", help="the ESP devices mDNS shows on the site's LAN"), _lan)

    events = commands.add_parser("events", help="the event log (or --follow it live)")
    events.add_argument("--station", metavar="MAC")
    events.add_argument("--limit", type=int, default=50)
    events.add_argument("--follow", action="store_true", help="keep printing new events until Ctrl-C")
    _json_flag(events, _events)


def run(args: argparse.Namespace) -> int:
    """Run the admin command in `args` against the service; return the exit code."""
    action: Action | None = getattr(args, "action", None)
    if action is None:
        return _no_command(args)
    socket_path = _socket(args)

    async def call() -> Any:
        async with AdminClient(socket_path) as client:
            return await action(client, args)

    try:
        result = asyncio.run(call())
    except ServiceUnavailable as exc:
        print(exc.message, file=sys.stderr)
        return EXIT_UNREACHABLE
    except AdminError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        return 0
    if args.json and result is not None:
        print(json.dumps(result, indent=2, sort_keys=True))
    elif isinstance(result, dict) and "mac" in result and not getattr(args, "printed", False):
        print(station_detail(result))
    return 0


def _no_command(args: argparse.Namespace) -> int:
    async def status() -> Any:
        async with AdminClient(_socket(args)) as client:
            return await client.status()

    try:
        info = asyncio.run(status())
    except AdminError as exc:
        print(f"\n{exc.message}", file=sys.stderr)
        return 0
    counts = ", ".join(f"{n} {state}" for state, n in sorted(info["counts"].items())) or "no stations yet"
    print(f"\nStationmaster {info['version']} is running (up {info['uptime_s'] / 3600:.1f} h): {counts}")
    return 0


def _socket(args: argparse.Namespace) -> Path:
    if args.admin_socket is not None:
        return Path(args.admin_socket)
    if os.environ.get("STATIONMASTER_ADMIN_SOCKET"):
        return Path(os.environ["STATIONMASTER_ADMIN_SOCKET"])
    return default_admin_socket()


def _json_flag(parser: argparse.ArgumentParser, action: Action) -> None:
    parser.add_argument("--json", action="store_true", help="print the API's JSON")
    parser.set_defaults(action=action)


def _status_action(verb: str) -> Action:
    async def act(client: AdminClient, args: argparse.Namespace) -> Any:
        return await getattr(client, verb)(args.mac)

    return act


async def _status(client: AdminClient, args: argparse.Namespace) -> Any:
    info = await client.status()
    if not args.json:
        counts = ", ".join(f"{n} {state}" for state, n in sorted(info["counts"].items())) or "no stations"
        print(
            f"Stationmaster {info['version']}, up {info['uptime_s']:.0f} s, stations at {info['station_url']}: {counts}"
        )
    return info


async def _list_stations(client: AdminClient, args: argparse.Namespace) -> Any:
    stations = await client.stations()
    if args.json:
        return {"stations": stations}
    print_table(["NAME", "MAC", "STATUS", "CHIP", "VERSION", "RSSI", "LAST SEEN", "IP"], station_rows(stations))
    return None


async def _show_station(client: AdminClient, args: argparse.Namespace) -> Any:
    return await client.station(args.mac)


async def _import(client: AdminClient, args: argparse.Namespace) -> Any:
    path: Path = args.file
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as exc:
        raise AdminError("bad_request", f"cannot read {path}: {exc.strerror}", 0) from None
    image = await client.import_image(data, path.name, project=args.project, version=args.image_version)
    if not args.json:
        print(f"imported {image['sha256'][:12]}  {image['chip']}  {image['project'] or '-'} {image['version'] or '-'}")
    return image


async def _list_images(client: AdminClient, args: argparse.Namespace) -> Any:
    images = await client.images()
    if args.json:
        return {"images": images}
    print_table(["SHA-256", "CHIP", "PROJECT", "VERSION", "SIZE", "FILE"], image_rows(images))
    return None


async def _show_image(client: AdminClient, args: argparse.Namespace) -> Any:
    image = await client.image(args.prefix)
    if not args.json:
        for key, value in image.items():
            print(f"{key:<12} {value}")
    return image


async def _delete_image(client: AdminClient, args: argparse.Namespace) -> Any:
    await client.delete_image(args.prefix)
    if not args.json:
        print(f"deleted {args.prefix}")
    return {"deleted": args.prefix}


async def _list_assignments(client: AdminClient, args: argparse.Namespace) -> Any:
    found = await client.assignments()
    if args.json:
        return {"assignments": found}
    rows = [[str(a["id"]), a["sha256"][:12], a["mac"] or f"tag:{a['tag']}"] for a in found]
    print_table(["ID", "IMAGE", "TARGET"], rows)
    return None


async def _lan(client: AdminClient, args: argparse.Namespace) -> Any:
    services = await client.lan()
    if args.json:
        return {"services": services}
    rows = [
        [
            s["host"] or "-",
            s["address"] or "-",
            str(s["port"] or "-"),
            s["type"].removesuffix(".local."),
            s["board"] or "-",
            s["station"] or "-",
        ]
        for s in services
    ]
    print_table(["HOST", "ADDRESS", "PORT", "SERVICE", "BOARD", "STATION"], rows)
    return None


async def _events(client: AdminClient, args: argparse.Namespace) -> Any:
    found = list(reversed(await client.events(mac=args.station, limit=args.limit)))
    if not args.follow:
        if args.json:
            return {"events": found}
        for event in found:
            print(event_line(event))
        return None
    for event in found:
        print(json.dumps(event) if args.json else event_line(event), flush=True)
    async for message in client.stream_events():
        if message.get("id") is None or (args.station and message.get("mac") != args.station.upper()):
            continue
        print(json.dumps(message) if args.json else event_line(message), flush=True)
    return None
