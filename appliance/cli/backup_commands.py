"""`stationmaster backup` and `stationmaster restore`: through the service, which alone opens the registry."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

from appliance.contract.client import AdminClient


class Declined(Exception):
    """The admin did not confirm; nothing was sent."""


def add_parsers(commands: Any) -> None:
    """Add `backup` and `restore` to the `stationmaster` parser's subcommands."""
    backup = commands.add_parser("backup", help="save the registry, the firmware and the config in one archive")
    backup.add_argument(
        "-o",
        "--output",
        type=Path,
        help="the archive (or the folder) to write; default ./stationmaster-HOST-TIME.tar.gz, HOST the Pi's host name",
    )
    backup.add_argument(
        "--include-secrets",
        action="store_true",
        help="put the site Wi-Fi passwords and private keys in it too (keep that file safe)",
    )
    _leaf(backup, _backup, _show_backup)

    restore = commands.add_parser("restore", help="make an archive the site's state, while the service runs")
    restore.add_argument("archive", type=Path)
    restore.add_argument("--yes", action="store_true", help="do not ask first")
    _leaf(restore, _restore, _show_restore)


def _leaf(parser: argparse.ArgumentParser, fetch: Any, show: Any) -> None:
    parser.add_argument("--json", action="store_true", help="print the API's JSON instead of sentences")
    parser.add_argument("--admin-socket", type=Path, default=argparse.SUPPRESS, help="the service's admin socket")
    parser.set_defaults(fetch=fetch, show=show)


async def _backup(client: AdminClient, args: argparse.Namespace) -> Any:
    # A folder (the current one by default) gets the file under the service's name for it.
    target: Path = args.output or Path.cwd()
    return await client.backup(target, include_secrets=args.include_secrets)


def _show_backup(result: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"wrote {result['path']} ({result['bytes']:,} bytes)")
    if result["include_secrets"]:
        print("it holds the site's Wi-Fi passwords: keep it where only you can read it")
    else:
        print("secrets left out (Wi-Fi passwords, private keys); --include-secrets puts them in")


async def _restore(client: AdminClient, args: argparse.Namespace) -> Any:
    archive: Path = args.archive
    if not await asyncio.to_thread(archive.is_file):
        from appliance.cli.admin_commands import UsageError

        raise UsageError(f"{archive} is not a file")
    if not args.yes:
        _confirm(archive)
    result = await client.restore(archive)
    result["config_files"] = _restore_config(archive, result.get("config") or [])
    return result


def _confirm(archive: Path) -> None:
    from appliance.cli.admin_commands import UsageError

    if not sys.stdin.isatty():
        raise UsageError("restore replaces the site's registry: confirm with --yes when not at a terminal")
    print(f"Restore {archive}? The stations, firmware and events become the archive's;", file=sys.stderr)
    print("the registry as it is now is kept as registry.before-restore.sqlite3.", file=sys.stderr)
    if input("Type yes to go on: ").strip().lower() != "yes":
        raise UsageError("not restored")


def _restore_config(archive: Path, names: list[str]) -> dict[str, str]:
    """Put the archive's config files back when we may (root), else say what differs; only the files a backup
    carries, and only inside the config directory (the one of the config file in force), whatever the archive says."""
    from services.domain.backup import configfiles
    from services.domain.backup.archive import CONFIG_PREFIX
    from services.domain.backup.limits import ArchiveLimits, BoundedTarInfo

    outcome: dict[str, str] = {}
    config_file = _config_file_in_force()
    wanted = {CONFIG_PREFIX + name: name for name in names if name in configfiles.KNOWN}
    outcome.update({name: "refused" for name in names if name not in configfiles.KNOWN})
    if not wanted:
        return outcome
    with tarfile.open(archive, mode="r|gz", tarinfo=BoundedTarInfo) as tar:
        for member in tar:
            name = wanted.pop(member.name, None)
            if name is None or not member.isfile() or member.size > ArchiveLimits().max_config_bytes:
                continue
            source = tar.extractfile(member)
            if source is None:
                continue
            data = source.read(member.size)
            try:
                target = configfiles.target(config_file.parent, name, config_file.name)
            except ValueError:
                outcome[name] = "refused"
                continue
            if target.is_file() and target.read_bytes() == data:
                outcome[name] = "same"
            elif os.geteuid() == 0:
                configfiles.write(target, data)
                outcome[name] = "written"
            else:
                outcome[name] = "differs"
            if not wanted:
                break
    return outcome


def _config_file_in_force() -> Path:
    """The config file a restore puts back (its folder holds the others): the one in force, else the system one."""
    from appliance.config import SYSTEM_CONFIG, ConfigError, find_config_file

    try:
        return find_config_file(None, os.environ) or SYSTEM_CONFIG
    except ConfigError:
        return Path(os.environ["STATIONMASTER_CONFIG"])  # named but not there yet: the restore makes it


def _show_restore(result: dict[str, Any], args: argparse.Namespace) -> None:
    made = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(result["archive_created_at"]))
    print(f"restored the backup made {made}: {result['stations']} stations, {result['images']} images")
    print(f"the registry as it was is kept as {result['previous_registry']}")
    if not result["secrets"]:
        kept = ", ".join(f"{rows} from {table}" for table, rows in result["secrets_kept"].items()) or "none"
        print(f"the archive had no secrets; the appliance's own were kept ({kept})")
    files = result.get("config_files") or {}
    folder = _config_file_in_force().parent
    written = [name for name, state in files.items() if state == "written"]
    differs = [name for name, state in files.items() if state == "differs"]
    refused = [name for name, state in files.items() if state == "refused"]
    if written:
        print(f"config restored in {folder}: {', '.join(written)}; `sudo systemctl restart stationmaster`")
    if differs:
        print(
            f"the archive's {', '.join(differs)} differ from {folder}: run"
            f" `sudo stationmaster restore --yes {args.archive}` to put them back too"
        )
    if refused:
        print(f"not written (not a config file a backup carries, or a path leaving {folder}): {', '.join(refused)}")
