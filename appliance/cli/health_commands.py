"""`stationmaster command|alerts|restarts|history`: commands for stations and their health, over the admin API."""

from __future__ import annotations

import argparse
from typing import Any

from appliance.cli import health_views
from appliance.cli.admin_commands import UsageError, _leaf, positive_int
from appliance.contract.client import AdminClient


def add_parsers(commands: Any) -> None:
    """Add the command, alert, restart and history commands to the `stationmaster` parser."""
    command = commands.add_parser("command", help="send a command to a station, or list them")
    actions = command.add_subparsers(dest="command_command", required=True, metavar="ACTION")
    send = actions.add_parser(
        "send",
        help="queue a command, delivered at the station's next check-in",
        description="KIND is reboot, update_now, refresh_config, identify, or any word custom firmware answers to.",
    )
    send.add_argument("mac")
    send.add_argument("kind", help="reboot, update_now, refresh_config, identify, or a custom word")
    send.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE", help="an argument (repeat)")
    send.add_argument("--ttl", type=positive_int, metavar="SECONDS", help="expire if not delivered within this")
    send.add_argument("--force", action="store_true", help="also restart a station tagged critical")
    _leaf(send, _send, health_views.sent)
    listing = actions.add_parser("list", help="commands, newest first")
    listing.add_argument("--station", metavar="MAC", help="only this station's")
    listing.add_argument("--open", action="store_true", help="only those not finished")
    listing.add_argument("--limit", type=positive_int, default=50, help="how many (default 50)")
    _leaf(listing, _list, health_views.commands)
    show = actions.add_parser("show", help="one command")
    show.add_argument("id", type=positive_int)
    _leaf(show, lambda c, a: c.command(a.id), health_views.command)
    cancel = actions.add_parser("cancel", help="cancel a command the station has not finished")
    cancel.add_argument("id", type=positive_int)
    _leaf(cancel, lambda c, a: c.cancel_command(a.id), health_views.command)

    alerts = commands.add_parser("alerts", help="open alerts (or --all), or clear one")
    alerts.add_argument("--all", action="store_true", dest="all_kept", help="cleared ones too")
    alerts.add_argument("--station", metavar="MAC", help="only this station's")
    _leaf(alerts, _alerts, health_views.alerts)
    alert_actions = alerts.add_subparsers(dest="alert_command", metavar="ACTION")
    clear = alert_actions.add_parser("clear", help="dismiss an alert (raised again if its cause persists)")
    clear.add_argument("id", type=positive_int)
    _leaf(clear, lambda c, a: c.clear_alert(a.id), health_views.cleared)

    restarts = commands.add_parser("restarts", help="a station's restarts and their causes")
    restarts.add_argument("mac")
    restarts.add_argument("--limit", type=positive_int, default=50, help="how many (default 50)")
    _leaf(restarts, _restarts, health_views.restarts)

    history = commands.add_parser("history", help="a station's history summarised by hour (or --by day)")
    history.add_argument("mac")
    history.add_argument("--by", choices=("hour", "day"), default="hour", help="the summary's span")
    history.add_argument("--limit", type=positive_int, default=48, help="how many (default 48)")
    _leaf(history, _history, health_views.history)


def parse_arguments(pairs: list[str]) -> dict[str, str]:
    """NAME=VALUE pairs as a dict (values stay text: the firmware reads them)."""
    found: dict[str, str] = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name:
            raise UsageError(f"--arg takes NAME=VALUE, got {pair!r}")
        found[name.strip()] = value
    return found


async def _send(client: AdminClient, args: argparse.Namespace) -> Any:
    arguments = parse_arguments(args.arg)
    return await client.send_command(args.mac, args.kind, arguments, ttl_s=args.ttl, force=args.force)


async def _list(client: AdminClient, args: argparse.Namespace) -> Any:
    return {"commands": await client.commands(station=args.station, open_only=args.open, limit=args.limit)}


async def _alerts(client: AdminClient, args: argparse.Namespace) -> Any:
    return {"alerts": await client.alerts(all_kept=args.all_kept, station=args.station)}


async def _restarts(client: AdminClient, args: argparse.Namespace) -> Any:
    return {"restarts": await client.restarts(args.mac, args.limit)}


async def _history(client: AdminClient, args: argparse.Namespace) -> Any:
    return {"rollups": await client.rollups(args.mac, args.by, args.limit)}
