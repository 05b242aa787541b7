"""`stationmaster feed …`: make keys and signed feeds on the admin's machine; follow and sync one on the site."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from appliance.contract.client import AdminClient


def add_parsers(commands: Any) -> None:
    """Add `feed` and its actions to the `stationmaster` parser's subcommands."""
    feed = commands.add_parser("feed", help="the upstream release feed (and, on your machine, its keys and signing)")
    _leaf(feed, lambda c, a: c.feed(), _show_status)
    actions = feed.add_subparsers(dest="feed_command", metavar="ACTION")

    keygen = actions.add_parser("keygen", help="on your machine: make a signing key (prints its public key)")
    keygen.add_argument("key", type=Path, help="where to write the private key, e.g. ~/.config/stationmaster/feed.key")
    keygen.add_argument("--passphrase", action="store_true", help="encrypt it with a passphrase (asked for)")
    _leaf(keygen, _keygen, _show_keygen)
    keygen.set_defaults(offline=True)  # on the admin's machine: no appliance to reach, over SSH or not

    sign = actions.add_parser("sign", help="on your machine: sign a folder of images into DIR/feed.json")
    sign.add_argument("folder", type=Path, help="the folder you will upload: its *.bin images")
    sign.add_argument("--key", type=Path, required=True, help="the private key from `feed keygen`")
    sign.add_argument("--base-url", help="where the images will be (default: next to feed.json)")
    sign.add_argument("--sequence", type=int, help="the feed's number (default: one more than the last)")
    _leaf(sign, _sign, _show_sign)
    sign.set_defaults(offline=True)

    follow = actions.add_parser("follow", help="follow a feed: its URL and your public key")
    follow.add_argument("url", help="the feed.json URL (any HTTP(S) server or a public bucket)")
    follow.add_argument("--key", required=True, help="the public key `feed keygen` printed (ed25519:...)")
    follow.add_argument("--every", type=int, metavar="SECONDS", help="how often to look (default 21600: 6 h)")
    _leaf(follow, lambda c, a: c.follow_feed(a.url, a.key, a.every), _show_status)
    _leaf(actions.add_parser("unfollow", help="stop following the feed"), _unfollow, lambda r, a: print("unfollowed"))
    sync = actions.add_parser("sync", help="look at the feed now and fetch what is new")
    _leaf(sync, lambda c, a: c.sync_feed(), _show_sync)


def _leaf(parser: argparse.ArgumentParser, fetch: Any, show: Any) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of sentences")
    parser.add_argument("--admin-socket", type=Path, default=argparse.SUPPRESS, help="the service's admin socket")
    parser.set_defaults(fetch=fetch, show=show)


async def _unfollow(client: AdminClient, args: argparse.Namespace) -> Any:
    await client.unfollow_feed()
    return {"unfollowed": True}


async def _keygen(client: AdminClient, args: argparse.Namespace) -> Any:
    from appliance.cli.admin_commands import UsageError
    from services.domain.releases.keys import generate_key, private_key_pem, public_key_of

    path: Path = args.key.expanduser()
    if await asyncio.to_thread(path.exists):
        raise UsageError(f"{path} exists; a signing key is never overwritten (appliances trust the old one)")
    passphrase = _passphrase("passphrase for the new key: ") if args.passphrase else None
    key = generate_key()
    await asyncio.to_thread(_write_private, path, private_key_pem(key, passphrase))
    return {"key": str(path), "public_key": str(public_key_of(key))}


async def _sign(client: AdminClient, args: argparse.Namespace) -> Any:
    return await asyncio.to_thread(_sign_folder, args)


def _sign_folder(args: argparse.Namespace) -> dict[str, Any]:
    from appliance.cli.admin_commands import UsageError
    from services.core.errors import InvalidInput
    from services.domain.firmware.image import inspect_image
    from services.domain.releases import FeedEntry, load_private_key, sign_feed

    folder: Path = args.folder
    images = sorted(folder.glob("*.bin"))
    if not images:
        raise UsageError(f"{folder} holds no *.bin images")
    pem = args.key.expanduser().read_bytes()
    try:
        key = load_private_key(pem, None)
    except InvalidInput:
        try:
            key = load_private_key(pem, _passphrase(f"passphrase for {args.key}: ") or None)
        except InvalidInput as exc:
            raise UsageError(f"{args.key}: {exc.message}") from None
    entries = []
    for path in images:
        try:
            info = inspect_image(path.read_bytes())
        except InvalidInput as exc:
            raise UsageError(f"{path.name}: {exc.message}") from None
        url = f"{args.base_url.rstrip('/')}/{path.name}" if args.base_url else path.name
        entries.append(FeedEntry(url, info.sha256, info.size, info.chip, info.project, info.version, path.name))
    output = folder / "feed.json"
    sequence = args.sequence if args.sequence is not None else _next_sequence(output)
    temp = output.with_name(".feed.json.tmp")
    temp.write_bytes(sign_feed(key, sequence, entries))
    os.replace(temp, output)
    return {"feed": str(output), "sequence": sequence, "images": [e.filename for e in entries]}


def _next_sequence(previous: Path) -> int:
    """One more than the last feed's, and never less than the time: two machines signing never go back."""
    last = 0
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        last = int(json.loads(json.loads(previous.read_text())["payload"])["sequence"])
    return max(last + 1, int(time.time()))


def _passphrase(prompt: str) -> bytes:
    if sys.stdin.isatty():
        return getpass.getpass(prompt).encode()
    return sys.stdin.readline().rstrip("\n").encode()


def _write_private(path: Path, pem: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)


def _show_keygen(result: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"wrote the private key {result['key']} (keep it on this machine; it never goes to a site)")
    print("give each appliance the public key:")
    print(f"  stationmaster feed follow https://…/feed.json --key {result['public_key']}")


def _show_sign(result: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"signed {result['feed']} (sequence {result['sequence']}): {', '.join(result['images'])}")
    print("upload the whole folder; the sites fetch what is new at their next sync")


def _show_status(result: dict[str, Any], args: argparse.Namespace) -> None:
    if result.get("message"):
        print(result["message"])  # what following did, replay protection above all
    last = result.get("last_sync_at")
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(last)) if last else "not yet"
    print(f"feed      {result['url']}")
    print(f"key       {result['key']} ({result['key_id']})")
    print(f"every     {result['interval_s']} s; last sync {when}: {result.get('last_outcome') or '-'}")
    print(
        f"uplink    {result['uplink_bytes']:,} bytes in all;"
        f" {result['downloads']} downloads, {result['imported']} imported"
    )
    for refusal in result.get("refused") or []:
        print(f"refused   {refusal['sha256'][:12]}: {refusal['reason']}")


def _show_sync(result: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"feed {result['feed']} (sequence {result['sequence']}): {len(result['imported'])} imported,"
        f" {result['already_had']} already here; {result['uplink_bytes']:,} bytes over the uplink"
    )
    for sha in result["imported"]:
        print(f"imported  {sha[:12]}")
    for item in result["refused"]:
        print(f"refused   {item['sha256'][:12]}: {item['reason']}")
    for item in result["interrupted"]:
        print(f"cut short {item['sha256'][:12]}: {item['reason']}")
