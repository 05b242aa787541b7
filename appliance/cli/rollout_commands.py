"""`stationmaster rollout start|status|pause|resume|cancel|rollback|approve`: staged rollouts from the shell."""

from __future__ import annotations

import argparse
from typing import Any, cast

from appliance.cli.admin_commands import _leaf
from appliance.cli.rollout_views import rollout, rollouts
from appliance.contract.client import AdminClient
from appliance.contract.durations import parse_duration
from appliance.contract.shapes import Rollout

_ACTIONS = (
    ("pause", "offer the image to no one new (downloads under way finish; time-outs wait)"),
    ("resume", "carry on after a pause, or after a halt (accepting the failed wave's failures)"),
    ("cancel", "end the rollout where it is; updated stations stay on the new image"),
    ("rollback", "offer the stations it moved their previous image again"),
)


def add_parsers(commands: Any) -> None:
    """Add `rollout` and its actions to the `stationmaster` parser's subcommands."""
    parser = commands.add_parser("rollout", help="staged rollouts: start one, watch it, steer it")
    _leaf(parser, _status, _show)
    actions = parser.add_subparsers(dest="rollout_command", metavar="ACTION")

    start = actions.add_parser("start", help="roll an image out to stations, wave by wave")
    start.add_argument("image", help="a unique SHA-256 prefix (at least 6 hex digits)")
    target = start.add_mutually_exclusive_group()
    target.add_argument("--all", action="store_true", help="every accepted station of the image's chip (default)")
    target.add_argument("--tag", help="the stations carrying this tag")
    target.add_argument("--station", action="append", metavar="MAC", help="this station (repeat for a list)")
    start.add_argument("--waves", help="wave sizes: stations, percentages, 'rest' (default 1,25%%,rest)")
    start.add_argument("--soak", type=duration, help="how long each station must stay up on it (default 10m)")
    start.add_argument("--timeout", type=duration, help="how long a station has to come back on it (default 30m)")
    start.add_argument("--max-failures", type=float, metavar="PERCENT", help="a wave fails past this (default 10)")
    start.add_argument("--min-rssi", type=int, metavar="DBM", help="hold back weaker links (site default -75)")
    start.add_argument("--min-heap", type=int, metavar="BYTES", help="hold back stations with less free heap")
    start.add_argument("--per-ap", type=int, metavar="N", help="at most N downloads at once per access point")
    start.add_argument("--window", metavar="HH:MM-HH:MM", help="critical stations may update in this window")
    start.add_argument("--name", help="a name for the rollout (default: the image's project and version)")
    _leaf(start, _start, rollout)

    status = actions.add_parser("status", help="every rollout, or one in full (waves and stations)")
    status.add_argument("id", nargs="?", type=int)
    _leaf(status, _status, _show)
    for verb, what in _ACTIONS:
        sub = actions.add_parser(verb, help=what)
        sub.add_argument("id", type=int)
        _leaf(sub, _action(verb), rollout)
    approve = actions.add_parser("approve", help="let critical stations of a rollout be updated")
    approve.add_argument("id", type=int)
    approve.add_argument("mac", nargs="*", help="the stations (default: every critical one)")
    _leaf(approve, _approve, rollout)


def duration(text: str) -> float:
    """An argparse type: seconds, or a span such as 90s, 10m, 1h30m."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


async def _start(client: AdminClient, args: argparse.Namespace) -> Any:
    if args.tag:
        target: dict[str, Any] = {"tag": args.tag}
    elif args.station:
        target = {"stations": args.station}
    else:
        target = {"all": True}
    return await client.start_rollout(
        args.image,
        target=target,
        waves=[part.strip() for part in args.waves.split(",")] if args.waves else None,
        name=args.name,
        soak_s=args.soak,
        timeout_s=args.timeout,
        max_failures_percent=args.max_failures,
        min_rssi=args.min_rssi,
        min_free_heap=args.min_heap,
        downloads_per_ap=args.per_ap,
        maintenance_window=args.window,
    )


async def _status(client: AdminClient, args: argparse.Namespace) -> Any:
    rollout_id = getattr(args, "id", None)
    if rollout_id is None:
        return {"rollouts": await client.rollouts()}
    return await client.rollout(rollout_id)


def _show(answer: dict[str, Any], args: argparse.Namespace) -> None:
    if "rollouts" in answer:
        rollouts(answer, args)
    else:
        rollout(cast(Rollout, answer), args)


def _action(verb: str) -> Any:
    async def fetch(client: AdminClient, args: argparse.Namespace) -> Any:
        return await client.rollout_action(args.id, verb)

    return fetch


async def _approve(client: AdminClient, args: argparse.Namespace) -> Any:
    return await client.approve_rollout(args.id, args.mac or None)
