"""`stationmaster doctor`: look at the install from where the admin stands, and say what to fix."""

from __future__ import annotations

import argparse
import asyncio
import errno
import grp
import json
import os
import shutil
import socket
import stat
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from appliance.cli.listeners import listener_uid, user_name
from appliance.config import (
    ConfigError,
    Settings,
    client_admin_socket,
    find_config_file,
    load_settings,
    service_environment,
)
from appliance.contract.client import AdminClient, AdminError
from appliance.contract.clock import synchronised as clock_state
from appliance.contract.shapes import Status
from appliance.timesync import synchronised

GROUP = "stationmaster"
UDEV_RULE = Path("/etc/udev/rules.d/60-stationmaster-serial.rules")
AVAHI_CONF = Path("/etc/avahi/avahi-daemon.conf")
# A clock before this is one that has not been set since boot (a Pi has no battery clock).
_CLOCK_FLOOR = time.mktime((2025, 1, 1, 0, 0, 0, 0, 0, 0))
_LOW_DISK = 500 * 1024 * 1024
_FULL_DISK = 100 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's verdict: "ok", "warn" or "fail", what was seen, and what to do about it."""

    check: str
    verdict: str
    seen: str
    fix: str = ""


def add_parser(commands: Any) -> None:
    """Add `doctor` to the `stationmaster` parser's subcommands."""
    doctor = commands.add_parser("doctor", help="check the install and say what to fix")
    doctor.add_argument("--json", action="store_true", help="print the findings as JSON")
    doctor.add_argument("--admin-socket", type=Path, default=argparse.SUPPRESS, help="the service's admin socket")
    doctor.set_defaults(doctor=True)


def run(args: argparse.Namespace) -> int:
    """Run every check, print the findings; exit 1 if any failed."""
    findings = asyncio.run(examine(args))
    if args.json:
        print(json.dumps([asdict(f) for f in findings], indent=2))
    else:
        for finding in findings:
            print(f"{finding.verdict.upper():<4}  {finding.check:<8}  {finding.seen}")
            if finding.fix:
                print(f"{'':<4}  {'':<8}  → {finding.fix}")
    return 1 if any(f.verdict == "fail" for f in findings) else 0


async def examine(args: argparse.Namespace) -> list[Finding]:
    """Every finding, in the order a person would fix them."""
    findings: list[Finding] = []
    env = service_environment(args.config, os.environ)
    try:
        file = find_config_file(args.config, env)
        settings = load_settings(config_path=args.config, env=env)
        path = Path(args.admin_socket) if args.admin_socket else client_admin_socket(config_path=args.config, env=env)
    except ConfigError as exc:
        return [Finding("config", "fail", str(exc), "fix the file, then `stationmaster config check`")]
    findings.append(Finding("config", "ok", f"{file} loads" if file else "no config file: the built-in defaults"))
    status, refused = await _service(path, findings)
    findings.append(_port(settings, status, path if refused else None))
    findings.append(await _mdns(settings, status, refused))
    findings.append(_disk(settings.data_dir))
    findings.append(await _clock(settings, status))
    findings.extend(_serial())
    findings.extend(_avahi())
    return findings


async def _service(path: Path, findings: list[Finding]) -> tuple[Status | None, bool]:
    """The service's status, or None and whether it was for want of the right to ask."""
    try:
        info = await asyncio.to_thread(path.stat)
    except FileNotFoundError:
        findings.append(
            Finding(
                "service",
                "fail",
                f"no admin socket at {path}: the service is not running",
                "`sudo systemctl start stationmaster`; if it will not stay up, `journalctl -u stationmaster -e`",
            )
        )
        return None, False
    except PermissionError:
        findings.append(_not_in_group(path))
        return None, True
    if not stat.S_ISSOCK(info.st_mode):
        findings.append(
            Finding(
                "socket", "fail", f"{path} is not a socket", f"remove it (`sudo rm {path}`) and restart the service"
            )
        )
        return None, False
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o007:
        findings.append(
            Finding(
                "socket", "warn", f"{path} has mode {mode:o}: every user may act as an admin", "restart the service"
            )
        )
    try:
        async with AdminClient(path) as client:
            status = await client.status()
    except AdminError as exc:
        if "permission denied" in exc.message:
            findings.append(_not_in_group(path))
        else:
            findings.append(
                Finding(
                    "service", "fail", exc.message, "`systemctl status stationmaster`; `journalctl -u stationmaster -e`"
                )
            )
        return None, "permission denied" in exc.message
    findings.append(Finding("socket", "ok", f"{path} (mode {mode:o}, group {_group(info.st_gid)}) answers"))
    findings.append(Finding("service", "ok", f"Stationmaster {status['version']} up {status['uptime_s'] / 3600:.1f} h"))
    return status, False


def _not_in_group(path: Path) -> Finding:
    return Finding(
        "socket",
        "fail",
        f"you may not open {path}: only members of group {GROUP} are admins",
        f"`sudo usermod -aG {GROUP} {os.environ.get('USER') or '$USER'}`, then log out and in again",
    )


def _port(settings: Settings, status: Status | None, refused_at: Path | None) -> Finding:
    """The station port: served if the service says so, else free for it; `refused_at`: a socket we may not ask."""
    port = int(status["station_port"]) if status else settings.http_port
    if status is not None:
        with socket.socket() as probe:
            probe.settimeout(2)
            if probe.connect_ex(("127.0.0.1" if settings.http_host in ("0.0.0.0", "") else settings.http_host, port)):
                return Finding("port", "fail", f"the service says it serves port {port}, but nothing answers there", "")
        return Finding("port", "ok", f"stations reach the service on port {port}")
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((settings.http_host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return Finding("port", "warn", f"cannot try port {port}: {exc.strerror}")
        else:
            return Finding("port", "ok", f"port {port} is free for the service")
    holder = listener_uid(port)
    if refused_at is not None and holder is not None and holder == _owner(refused_at.parent):
        # Not allowed to ask the service, but the port's listener is the user its socket's folder belongs to.
        return Finding("port", "ok", f"port {port} is served by {user_name(holder)}, the user the service runs as")
    if refused_at is not None and holder is None:
        return Finding("port", "warn", f"port {port} is in use: only an admin may ask the service whether by it")
    by = f" (run by {user_name(holder)})" if holder is not None else ""
    return Finding(
        "port",
        "fail",
        f"port {port} is taken by another program{by}, so the service cannot start",
        f"`sudo ss -ltnp 'sport = :{port}'` shows which; stop it or set [http] port",
    )


async def _mdns(settings: Settings, status: Status | None, refused: bool) -> Finding:
    announced = status.get("mdns") if status is not None else None
    if not settings.mdns or (status is not None and announced is None):
        return Finding(
            "mdns", "warn", "mDNS is off: stations cannot find the appliance by name", "[mdns] enabled = true"
        )
    silent = announced.get("not_announcing") if announced is not None else _unannounced(settings.http_host)
    if silent:
        return Finding(
            "mdns",
            "warn",
            f"not announcing: {silent}, so stations cannot find or reach the appliance",
            "set [http] host to 0.0.0.0 (every interface) or the address stations reach",
        )
    if announced is None:  # no answer: with one, mDNS off has been said above
        why = "only an admin may ask the service its name" if refused else "the service is not running"
        return Finding("mdns", "warn", f"not checked: {why}")
    mdns = announced
    hostname = str(mdns.get("hostname") or "")
    if not mdns.get("addresses"):
        return Finding("mdns", "fail", "the service has no IPv4 address to announce", "check the network (`ip addr`)")
    answer = await _resolve(hostname)
    if answer is None:
        return Finding(
            "mdns",
            "fail",
            f"nobody answered for {hostname} on the LAN",
            "is UDP 5353 blocked by a firewall? is avahi-daemon set to disallow-other-stacks=yes?",
        )
    return Finding("mdns", "ok", f"{hostname} answers with {', '.join(answer)}")


def _unannounced(host: str) -> str | None:
    """Why the service would announce nothing when bound to `host` (resolved as its listener resolves it)."""
    from services.core.interfaces import why_unannounced

    try:
        found = socket.getaddrinfo(host or None, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError:
        return None  # a name that does not resolve here: the service's own start says what is wrong
    return why_unannounced([str(sockaddr[0]) for *_, sockaddr in found])


async def _resolve(hostname: str) -> list[str] | None:
    """Ask the LAN (multicast, as a station does) for `hostname`'s addresses."""
    from zeroconf import (  # type: ignore[attr-defined]  # exported at runtime, missing from __all__
        AddressResolverIPv4,
        IPVersion,
    )
    from zeroconf.asyncio import AsyncZeroconf

    # The asyncio API: doctor runs in an event loop, where the blocking request refuses to run.
    aiozc = AsyncZeroconf(ip_version=IPVersion.V4Only)
    try:
        resolver = AddressResolverIPv4(hostname.rstrip(".") + ".")
        if await resolver.async_request(aiozc.zeroconf, 3000):
            return list(resolver.parsed_addresses())
        return None
    finally:
        await aiozc.async_close()


def _disk(data_dir: Path) -> Finding:
    # The data folder may be closed to this user (it is the service's): measure the nearest folder we can see.
    place = data_dir
    while True:
        try:
            free = shutil.disk_usage(place).free
            break
        except OSError as exc:
            if place == place.parent:
                return Finding("disk", "warn", f"cannot see {data_dir}: {exc.strerror}")
            place = place.parent
    mb = free // (1024 * 1024)
    if free < _FULL_DISK:
        return Finding("disk", "fail", f"{mb} MB free under {place}", "delete old backups or unused firmware")
    if free < _LOW_DISK:
        return Finding("disk", "warn", f"only {mb} MB free under {place}", "delete old backups or unused firmware")
    return Finding("disk", "ok", f"{mb:,} MB free under {place}")


async def _clock(settings: Settings, status: Status | None) -> Finding:
    """Whether the clock is set and synchronised: the service's view when it runs, else this machine's."""
    if status is not None and "clock" in status:
        state, now = clock_state(status), float(status["clock"].get("says") or time.time())
    else:
        state, now = await asyncio.to_thread(synchronised, settings.clock_sync_flag), time.time()
    shown = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(now))
    ntp = "the Pi needs network time (NTP, UDP port 123, out through the uplink): `timedatectl timesync-status`"
    if now < _CLOCK_FLOOR:
        return Finding("clock", "fail", f"the clock says {shown}: it has not been set since boot", ntp)
    if state is False:
        return Finding(
            "clock",
            "warn",
            f"the clock says {shown} but is not synchronised: NTP has not set it since boot (a Pi has no battery"
            " clock); until it is, no history is deleted by age",
            ntp,
        )
    if state is None:
        return Finding(
            "clock",
            "warn",
            f"the clock says {shown}; whether it is synchronised cannot be told (no systemd-timesyncd, and"
            " `timedatectl` does not answer)",
            "install systemd-timesyncd, or check the NTP daemon in use",
        )
    return Finding("clock", "ok", f"the clock says {shown} and is synchronised")


def _serial() -> list[Finding]:
    findings = []
    devices = sorted({*Path("/dev").glob("ttyUSB*"), *Path("/dev").glob("ttyACM*")})
    for device in devices:
        info = device.stat()
        group = _group(info.st_gid)
        if group not in (GROUP, "dialout") or not info.st_mode & stat.S_IRGRP or not info.st_mode & stat.S_IWGRP:
            findings.append(
                Finding(
                    "serial",
                    "fail",
                    f"{device} (group {group}, mode {stat.S_IMODE(info.st_mode):o}) cannot be used for flashing",
                    f"its chip is not in {UDEV_RULE}: add its USB ids there and `sudo udevadm trigger`",
                )
            )
        else:
            findings.append(Finding("serial", "ok", f"{device} may be used for flashing (group {group})"))
    if not devices:
        findings.append(Finding("serial", "ok", "no USB-serial adapter plugged in"))
    if Path("/etc/stationmaster").is_dir() and not UDEV_RULE.is_file():
        findings.append(Finding("serial", "warn", f"{UDEV_RULE} is missing", "run deploy/install.sh again"))
    return findings


def _avahi() -> list[Finding]:
    try:
        text = AVAHI_CONF.read_text()
    except OSError:
        return []
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "disallow-other-stacks" and value.strip() == "yes":
            return [
                Finding(
                    "avahi",
                    "fail",
                    "avahi-daemon keeps UDP 5353 to itself (disallow-other-stacks=yes)",
                    f"set it to no in {AVAHI_CONF}, `sudo systemctl restart avahi-daemon stationmaster`",
                )
            ]
    return [Finding("avahi", "ok", "avahi-daemon shares UDP 5353 with the service")]


def _owner(path: Path) -> int | None:
    try:
        return path.stat().st_uid
    except OSError:
        return None


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
