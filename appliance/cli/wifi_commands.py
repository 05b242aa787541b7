"""`stationmaster wifi`: the site's networks (passphrases asked for, never taken from the command line)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from appliance.cli import views
from appliance.cli.admin_commands import UsageError, leaf, positive_int, read_secret
from appliance.contract.ages import ago
from appliance.contract.client import AdminClient
from appliance.contract.shapes import WifiNetwork, WifiRemoved


def add_parsers(commands: Any) -> None:
    """Add `wifi` and its actions to the `stationmaster` parser's subcommands."""
    wifi = commands.add_parser("wifi", help="the site's Wi-Fi networks, and rotating them")
    leaf(wifi, _networks, show_networks)
    actions = wifi.add_subparsers(dest="wifi_command", metavar="ACTION")
    leaf(actions.add_parser("list", help="the site's networks (passphrases masked)"), _networks, show_networks)
    add = actions.add_parser(
        "add", help="add a network; its passphrase is asked for (or read from stdin), never given as an argument"
    )
    add.add_argument("ssid")
    add.add_argument("--priority", type=_priority, default=0, help="0-100, higher is tried first (default 0)")
    add.add_argument("--hidden", action="store_true", help="the SSID is not broadcast")
    add.add_argument("--fallback", action="store_true", help="join it only when no other site network can be")
    add.add_argument("--open", action="store_true", help="an open network: no passphrase to ask for")
    leaf(add, _add, lambda n, _: print(f"added {_describe(n)}; every accepted station will fetch it"))
    remove = actions.add_parser("remove", help="drop a network once every station holds the others")
    remove.add_argument("ssid")
    remove.add_argument(
        "--force", action="store_true", help="drop it even though some stations do not hold the others yet"
    )
    leaf(remove, _remove, show_removed)
    reveal = actions.add_parser("reveal", help="print one network's passphrase")
    reveal.add_argument("ssid")
    leaf(reveal, _reveal, lambda r, _: print(r["psk"]))
    rotation = actions.add_parser("rotation", help="which station holds which network")
    leaf(rotation, lambda c, _: c.wifi_rotation(), show_rotation)
    rotation.add_argument("--limit", type=positive_int, default=200, help="at most this many stations (default 200)")


async def _networks(client: AdminClient, _: argparse.Namespace) -> Any:
    return {"networks": await client.wifi_networks()}


async def _add(client: AdminClient, args: argparse.Namespace) -> Any:
    if args.open:
        psk = ""
    else:
        psk = read_secret(f"Passphrase for {args.ssid}: ")
        if sys.stdin.isatty() and read_secret("Again: ") != psk:
            raise UsageError("the two passphrases differ; nothing was added")
        if not psk:
            raise UsageError("no passphrase given (use --open for an open network); nothing was added")
    return await client.add_wifi(args.ssid, psk, priority=args.priority, hidden=args.hidden, fallback=args.fallback)


async def _remove(client: AdminClient, args: argparse.Namespace) -> Any:
    return await client.remove_wifi(args.ssid, override=args.force)


async def _reveal(client: AdminClient, args: argparse.Namespace) -> Any:
    return {"ssid": args.ssid, "psk": await client.reveal_wifi(args.ssid)}


def show_networks(answer: dict[str, Any], _: argparse.Namespace) -> None:
    """The site's networks, the passphrase shown only as set or not."""
    found: list[WifiNetwork] = answer["networks"]
    if not found:
        print("no site networks yet: add one with `stationmaster wifi add SSID`")
        return
    rows = [
        [
            n["ssid"],
            str(n["priority"]),
            "open" if n["open"] else "********",
            ", ".join(w for w, on in (("hidden", n["hidden"]), ("fallback", n["fallback"])) if on) or "-",
            ago(n["added_at"]) if n["added_at"] else "-",
        ]
        for n in found
    ]
    views.table(["SSID", "PRIORITY", "PASSPHRASE", "FLAGS", "ADDED"], rows)


def show_removed(answer: WifiRemoved, _: argparse.Namespace) -> None:
    """What a removal did."""
    short = answer["not_ready"]
    print(f"dropped {answer['removed']['ssid']}" + (f" (forced: {', '.join(short)} not ready)" if short else ""))


def show_rotation(answer: dict[str, Any], args: argparse.Namespace) -> None:
    """Per network who stops it being dropped, then per station what it holds and lacks."""
    for network in answer["networks"]:
        blocked = network["blocked_by"]
        if network["last"]:
            verdict = "the last network: dropping it needs --force"
        elif blocked:
            verdict = f"not droppable yet: {len(blocked)} station(s) lack the others"
        else:
            verdict = "droppable: every station holds the others"
        print(f"{network['ssid']}: {verdict}")
    stations = answer["stations"][: args.limit]
    if not stations:
        print("no accepted stations")
        return
    rows = [
        [
            s["name"],
            s["mac"] or "(awaiting)",
            "up to date" if not s["lacks"] else "lacks " + ", ".join(s["lacks"]),
            ", ".join(s["holds"]) or "-",
            "yes" if s["reports_config_etag"] else "never",
            ago(s["last_seen_at"]),
        ]
        for s in stations
    ]
    views.table(["STATION", "MAC", "WI-FI", "HOLDS", "REPORTS ETAG", "SEEN"], rows)
    behind = answer["behind"]
    print(
        "every station holds every network" if not behind else f"{len(behind)} station(s) behind: {', '.join(behind)}"
    )


def _describe(network: dict[str, Any]) -> str:
    flags = [
        w
        for w, on in (("hidden", network["hidden"]), ("fallback", network["fallback"]), ("open", network["open"]))
        if on
    ]
    return f"{network['ssid']} (priority {network['priority']}{', ' + ', '.join(flags) if flags else ''})"


def _priority(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError("a priority is from 0 to 100")
    return value
