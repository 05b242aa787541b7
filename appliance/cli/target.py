"""Which service an admin command talks to: a socket on this machine, or an appliance reached over SSH."""

from __future__ import annotations

import argparse
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from appliance.config import ConfigError, client_admin_socket, load_settings
from appliance.remote import DestinationError, ForwardError, SshDestination, SshForward, parse_destination, ssh_program

# ssh's own exit code when it could not connect (a remote command's code is passed through): ours is 3.
_SSH_FAILED = 255
_UNREACHABLE = 3


@dataclass(frozen=True, slots=True)
class Target:
    """A local socket, or an SSH destination with the appliance's socket there and the ssh to reach it with."""

    socket: Path | None
    destination: SshDestination | None = None
    remote_socket: Path | None = None
    ssh: tuple[str, ...] = ("ssh",)


def add_flags(parser: argparse.ArgumentParser, *, default: object = None) -> None:
    """`--ssh DEST` on `parser` (given after a command, SUPPRESS keeps it from hiding the global flag)."""
    parser.add_argument(
        "--ssh",
        metavar="[USER@]HOST[:PORT]",
        default=default,
        help="the appliance over SSH, from your own machine (or [remote] ssh in the config)",
    )


def choose(args: argparse.Namespace) -> Target:
    """--ssh, else --admin-socket or $STATIONMASTER_ADMIN_SOCKET, else [remote] ssh, else the local socket."""
    ssh_flag: str | None = getattr(args, "ssh", None)
    admin_socket: Path | None = getattr(args, "admin_socket", None)
    if getattr(args, "offline", False):  # a command of the admin's own machine (feed keygen, feed sign)
        return Target(socket=admin_socket or client_admin_socket(config_path=args.config, env=os.environ))
    if ssh_flag is None and admin_socket is not None:
        return Target(socket=Path(admin_socket).expanduser())
    if ssh_flag is None and os.environ.get("STATIONMASTER_ADMIN_SOCKET"):
        return Target(socket=client_admin_socket(config_path=args.config, env=os.environ))
    settings = load_settings(config_path=args.config, env=os.environ)
    named = ssh_flag if ssh_flag is not None else settings.remote_ssh
    if not named:
        return Target(socket=client_admin_socket(config_path=args.config, env=os.environ))
    try:
        destination = parse_destination(named)
        ssh = tuple(ssh_program(settings.ssh_command))
    except DestinationError as exc:
        raise ConfigError(str(exc)) from None
    return Target(socket=None, destination=destination, remote_socket=settings.remote_socket, ssh=ssh)


@contextmanager
def reach(target: Target) -> Iterator[tuple[Path, SshForward | None]]:
    """The socket to talk to (and the forward behind it, if any) for as long as the context lasts."""
    if target.destination is None:
        assert target.socket is not None
        yield target.socket, None
        return
    assert target.remote_socket is not None
    with SshForward(target.destination, target.remote_socket, target.ssh) as forward:
        yield forward.local_socket, forward


def doctor_afar(args: argparse.Namespace) -> int | None:
    """`doctor` for an appliance reached over SSH: run on the appliance itself, as `ssh HOST stationmaster doctor`
    would (it looks at the install from where it stands); None when the target is this machine."""
    try:
        chosen = choose(args)
    except ConfigError:
        if args.ssh is not None:
            raise
        return None  # a config that does not load is doctor's own finding
    if chosen.destination is None:
        return None
    command = [*chosen.ssh, *chosen.destination.arguments(), "stationmaster", "doctor"]
    if args.json:
        command.append("--json")
    try:
        code = subprocess.call(command, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise ForwardError(f"no {chosen.ssh[0]!r} command on this machine: install OpenSSH's client") from None
    return _UNREACHABLE if code == _SSH_FAILED else code
