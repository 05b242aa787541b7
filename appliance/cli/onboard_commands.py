"""`stationmaster onboard`: bench bundles, stations awaiting their arrival, and claims of pending stations."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from appliance.cli import views
from appliance.cli.admin_commands import UsageError, leaf
from appliance.contract import bundles
from appliance.contract.ages import ago
from appliance.contract.client import AdminClient


def add_parsers(commands: Any) -> None:
    """Add `onboard` and its actions to the `stationmaster` parser's subcommands."""
    onboard = commands.add_parser("onboard", help="bring new stations in: bench bundles and claims")
    leaf(onboard, _overview, show_overview)
    actions = onboard.add_subparsers(dest="onboard_command", metavar="ACTION")
    bundle = actions.add_parser("bundle", help="make a bench bundle: the station's NVS image and the esptool command")
    bundle.add_argument("--name", required=True, help="the station's name, e.g. STA2")
    bundle.add_argument("--chip", required=True, help="esp32, esp32s3, esp32c3, ... (ESP8266 has no NVS)")
    bundle.add_argument("--out", type=Path, help="the directory to write (default ./NAME-bundle); must not exist yet")
    bundle.add_argument("--firmware", metavar="SHA256-PREFIX", help="merge this image in: one file to flash")
    bundle.add_argument("--mac", help="the station's MAC, if known (it then shows as awaiting at once)")
    bundle.add_argument("--address", help="the appliance address stations fall back on (default: its own)")
    bundle.add_argument("--nvs-offset", type=_number, help="the NVS partition's offset (default 0x9000)")
    bundle.add_argument("--nvs-size", type=_number, help="the NVS partition's size (default 0x5000)")
    bundle.add_argument("--app-offset", type=_number, help="where a merged firmware goes (default 0x10000)")
    bundle.add_argument("--replace", action="store_true", help="replace an awaiting bundle of the same name")
    leaf(bundle, _bundle, show_bundle)
    leaf(actions.add_parser("list", help="stations awaiting their arrival, and recent bundles"), _list, show_list)
    cancel = actions.add_parser("cancel", help="cancel an awaiting bundle (its token stops working)")
    cancel.add_argument("name")
    leaf(cancel, lambda c, a: c.cancel_bundle(a.name), lambda p, _: print(f"cancelled {p['name']}'s bundle"))
    leaf(actions.add_parser("pending", help="stations that checked in without a token"), _pending, show_pending)
    for verb, what in (("accept", "let a pending station in"), ("reject", "turn a pending station away")):
        claim = actions.add_parser(verb, help=what)
        claim.add_argument("mac")
        leaf(claim, _claim(verb), lambda s, _: print(f"{s['name']} ({s['mac']}) {s['status']}"))


async def _bundle(client: AdminClient, args: argparse.Namespace) -> Any:
    asked = {"nvs_offset": args.nvs_offset, "nvs_size": args.nvs_size, "app_offset": args.app_offset}
    layout = {key: value for key, value in asked.items() if value is not None}
    try:
        # What the CLI shows (and --json prints) has no file contents, so no secret.
        return await bundles.make_and_write(
            client,
            args.out or bundles.default_directory(args.name),
            args.name,
            args.chip,
            mac=args.mac,
            firmware=args.firmware,
            address=args.address,
            replace=args.replace,
            layout=layout,
        )
    except bundles.BundleWriteError as exc:
        raise UsageError(str(exc)) from None


async def _overview(client: AdminClient, _: argparse.Namespace) -> Any:
    provisions = await client.provisions()
    pending = [s for s in await client.stations() if s["status"] == "pending"]
    return {"awaiting": provisions["awaiting"], "pending": pending}


async def _list(client: AdminClient, _: argparse.Namespace) -> Any:
    return await client.provisions()


async def _pending(client: AdminClient, _: argparse.Namespace) -> Any:
    return {"stations": [s for s in await client.stations() if s["status"] == "pending"]}


def _claim(verb: str) -> Any:
    async def fetch(client: AdminClient, args: argparse.Namespace) -> Any:
        station = await client.station(args.mac)
        if station["status"] != "pending":
            raise UsageError(f"{station['name']} ({station['mac']}) is {station['status']}, not pending")
        return await getattr(client, verb)(args.mac)

    return fetch


def show_bundle(result: dict[str, Any], _: argparse.Namespace) -> None:
    """Where the bundle went and the command to flash it."""
    provision = result["provision"]
    where = f", MAC {provision['mac']}" if provision["mac"] else ""
    print(f"{provision['name']} ({provision['chip']}{where}) is awaiting its arrival.")
    print(f"Its bundle is in {result['directory']}:")
    for item in result["files"]:
        offset = f"  -> flash at {item['offset']:#x}" if item["offset"] is not None else ""
        print(f"  {item['name']:<24} {item['size']:>10,} bytes{offset}")
    print("Copy the directory off the Pi (it holds the station's token: keep it private), then at the bench run in it:")
    print(f"  {result['command_line']}")


# The roads this version has, in the order of the TUI's Onboarding tab, each with the commands that take it.
ROADS = (
    ("bench bundle", "`onboard bundle`"),
    ("on-site USB", "`usb flash PORT`"),
    ("Improv serial", "`usb wifi PORT`"),
    ("claim", "`onboard pending`, `onboard accept MAC`"),
)


def show_overview(answer: dict[str, Any], args: argparse.Namespace) -> None:
    """The roads in, then who is awaited and who waits for a claim."""
    print("Roads in: " + "; ".join(f"{road} ({commands})" for road, commands in ROADS))
    show_list({"awaiting": answer["awaiting"], "recent": []}, args)
    show_pending({"stations": answer["pending"]}, args)


def show_list(answer: dict[str, Any], _: argparse.Namespace) -> None:
    """Stations awaiting their arrival (and, after them, recent bundles that arrived or were cancelled)."""
    awaiting = answer["awaiting"]
    if awaiting:
        rows = [[p["name"], p["chip"], p["mac"] or "-", p["road"], ago(p["created_at"])] for p in awaiting]
        print("Awaiting their arrival:")
        views.table(["NAME", "CHIP", "MAC", "ROAD", "MADE"], rows)
    else:
        print("no station is awaiting its arrival")
    done = [p for p in answer.get("recent", []) if p["state"] != "awaiting"]
    if done:
        print("Recent:")
        rows = [[p["name"], p["state"], p["mac"] or "-", ago(p["arrived_at"] or p["cancelled_at"])] for p in done]
        views.table(["NAME", "STATE", "MAC", "WHEN"], rows)


def show_pending(answer: dict[str, Any], _: argparse.Namespace) -> None:
    """Stations that checked in without a token, with what they sent."""
    found = answer["stations"]
    if not found:
        print("no station is waiting to be claimed")
        return
    print("Waiting to be claimed (`stationmaster onboard accept MAC`):")
    rows = [
        [s["mac"], s["chip"] or "?", s["project"] or "-", s["version"] or "-", s["ip"] or "-", ago(s["last_seen_at"])]
        for s in found
    ]
    views.table(["MAC", "CHIP", "PROJECT", "VERSION", "IP", "SEEN"], rows)


def _number(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (e.g. 0x9000)") from None
