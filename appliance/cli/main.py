"""`stationmaster`: run the service, simulate stations, or act as the admin through the admin socket."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from appliance import __version__
from appliance.cli import (
    admin_commands,
    backup_commands,
    doctor,
    feed_commands,
    health_commands,
    onboard_commands,
    rollout_commands,
    target,
    usb_commands,
    wifi_commands,
)
from appliance.config import (
    LOG_LEVELS,
    ConfigError,
    Settings,
    describe,
    find_config_file,
    load_settings,
    service_environment,
)
from appliance.remote import ForwardError

EXIT_OK = 0
EXIT_USAGE = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run it; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(parser, args)
    except BrokenPipeError:
        # `stationmaster events | head`: the reader has all it wanted. Silence the flush at exit too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The whole command-line grammar."""
    parser = argparse.ArgumentParser(
        prog="stationmaster",
        description="Look after the ESP8266/ESP32 stations of a remote site.",
        epilog="Exit codes: 0 done, 1 the service refused, 2 usage or configuration error, 3 no service reachable.",
    )
    parser.add_argument("--version", action="version", version=f"stationmaster {__version__}")
    parser.add_argument(
        "--config", type=Path, help="the TOML config file (default /etc/stationmaster/stationmaster.toml)"
    )
    parser.add_argument("--admin-socket", type=Path, help="the service's admin socket (or STATIONMASTER_ADMIN_SOCKET)")
    target.add_flags(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the service (what systemd runs)")
    _service_flags(serve)
    run = commands.add_parser("run", help="the service in this process with the TUI attached (no systemd needed)")
    _service_flags(run)
    demo = commands.add_parser("demo", help="the service, simulated stations and the TUI, in a scratch directory")
    _service_flags(demo)
    demo.add_argument("--no-tui", action="store_true", help="narrate what happens instead of opening the TUI")
    demo.add_argument(
        "--count", type=admin_commands.positive_int, default=12, help="how many simulated stations (default 12)"
    )
    config = commands.add_parser("config", help="configuration")
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    _service_flags(config_commands.add_parser("check", help="show the settings in force and where each came from"))

    simulate = commands.add_parser("simulate", help="simulated stations against a running service")
    simulate.add_argument(
        "--count", type=admin_commands.positive_int, default=10, help="how many stations (default 10)"
    )
    simulate.add_argument("--url", help="the station API, e.g. http://127.0.0.1:8080")
    simulate.add_argument(
        "--from-bundle",
        type=Path,
        metavar="DIR",
        help="one station booting from a bench bundle: it finds the appliance itself (mDNS, else the bundle's address)",
    )
    simulate.add_argument("--interval", type=float, default=10.0, help="seconds between check-ins (default 10)")
    simulate.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    simulate.add_argument("--seed", type=int, default=0, help="seed for the stations' identities (default 0)")

    admin_commands.add_parsers(commands)
    health_commands.add_parsers(commands)
    rollout_commands.add_parsers(commands)
    backup_commands.add_parsers(commands)
    feed_commands.add_parsers(commands)
    doctor.add_parser(commands)
    onboard_commands.add_parsers(commands)
    wifi_commands.add_parsers(commands)
    usb_commands.add_parsers(commands)
    return parser


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.ssh is not None and args.command in ("serve", "run", "demo", "config", "simulate"):
        parser.error(f"--ssh reaches an appliance for the admin commands and the TUI, not for `{args.command}`")
    if args.command in ("serve", "run", "demo", "config"):
        # `config check` shows the installed service's settings, not those of a service run from this shell.
        env = service_environment(args.config, os.environ) if args.command == "config" else os.environ
        try:
            settings = _settings(args, env)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if args.command == "config":
            return _config_check(args, settings)
        # Imported here so that the admin commands start without loading the service.
        from appliance import runtime

        if args.command == "demo":
            return runtime.demo(settings, count=args.count, tui=_interactive() and not args.no_tui)
        if args.command == "run":
            return runtime.run(settings)
        return runtime.serve(settings)
    if args.command == "simulate":
        if (args.url is None) == (args.from_bundle is None):
            parser.error("simulate needs either --url or --from-bundle DIR")
        if args.from_bundle is not None:
            from services.simulator.frombundle import run_from_bundle

            return run_from_bundle(
                args.from_bundle, mac_seed=args.seed, interval_s=args.interval, duration_s=args.duration
            )
        from services.simulator import run_cli

        return run_cli(
            url=args.url, count=args.count, interval_s=args.interval, duration_s=args.duration, seed=args.seed
        )
    if getattr(args, "doctor", False):
        try:
            afar = target.doctor_afar(args)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except ForwardError as exc:
            print(exc, file=sys.stderr)
            return admin_commands.EXIT_UNREACHABLE
        return doctor.run(args) if afar is None else afar
    if args.command is None:
        if _interactive():
            return admin_commands.open_tui(args)
        parser.print_help()
    return admin_commands.run(args)


def _interactive() -> bool:
    """True on a terminal a person is looking at (not a pipe, not a script)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def _service_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="where the registry and firmware live")
    parser.add_argument("--http-host", help="address of the station API (default 0.0.0.0)")
    parser.add_argument("--http-port", type=int, help="port of the station API (default 8080)")
    parser.add_argument("--admin-socket", type=Path, dest="service_admin_socket", help="path of the admin socket")
    parser.add_argument("--no-mdns", action="store_true", help="do not announce or browse by mDNS")
    parser.add_argument("--mdns-interface", action="append", metavar="NAME", help="use only this interface (repeat)")
    parser.add_argument("--log-level", choices=LOG_LEVELS, help="default info")


def _settings(args: argparse.Namespace, env: Mapping[str, str]) -> Settings:
    overrides = {
        "data_dir": args.data_dir,
        "http_host": args.http_host,
        "http_port": args.http_port,
        # `serve --admin-socket` and `--admin-socket serve` both name the socket to listen on.
        "admin_socket": getattr(args, "service_admin_socket", None) or args.admin_socket,
        "mdns": False if args.no_mdns else None,
        "mdns_interfaces": tuple(args.mdns_interface) if args.mdns_interface else None,
        "log_level": args.log_level,
    }
    return load_settings(config_path=args.config, env=env, overrides=overrides)


def _config_check(args: argparse.Namespace, settings: Settings) -> int:
    rows = describe(settings)
    width = max(len(name) for name, _, _ in rows)
    path = find_config_file(args.config, os.environ)
    print(f"{'config file':<{width}}  {path if path else 'none: built-in defaults, environment and flags only'}")
    for name, value, source in rows:
        print(f"{name:<{width}}  {value}  ({source})")
    return EXIT_OK
