"""Writing a bench bundle the service answered into a private directory on the Pi (CLI and TUI alike).

The directory appears whole or not at all: files go into a hidden staging directory beside it, each checked
against the size and SHA-256 the service announced, and the staging directory is renamed into place last.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from appliance.contract.client import AdminClient, AdminError

JSON = dict[str, Any]


class BundleWriteError(Exception):
    """The bundle could not be written where asked; nothing was left behind."""


def default_directory(name: str) -> Path:
    """Where a bundle goes when no directory is named: `./<name>-bundle`."""
    stem = "".join(c if c.isalnum() or c in "._-" else "_" for c in name).strip("._") or "station"
    return Path.cwd() / f"{stem}-bundle"


def stage(directory: Path) -> tuple[Path, Path]:
    """Check `directory` may be written and make its private staging directory; call before asking the service.

    Returns (the directory as an absolute path, the staging directory).
    """
    directory = directory.expanduser().absolute()
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise BundleWriteError(f"{directory} already exists and is not an empty directory: choose another --out")
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        # mkdtemp makes it 0700: the bundle holds a token and Wi-Fi passphrases.
        return directory, Path(tempfile.mkdtemp(prefix=f".{directory.name}.partial-", dir=directory.parent))
    except OSError as exc:
        raise BundleWriteError(f"cannot write in {directory.parent}: {exc.strerror or exc}") from None


def commit(staging: Path, answer: JSON, directory: Path) -> list[Path]:
    """Write the answer's files into `staging`, check them, and move it to `directory`; return the final paths."""
    try:
        names = [_write(staging, item) for item in answer["files"]]
        if directory.is_dir():
            directory.rmdir()  # stage() saw it empty
        staging.rename(directory)
        os.chmod(directory, 0o700)
    except (OSError, KeyError, TypeError, ValueError) as exc:
        discard(staging)
        raise BundleWriteError(
            f"cannot write the bundle to {directory}: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    return [directory / name for name in names]


def discard(staging: Path) -> None:
    """Remove a staging directory and whatever is in it."""
    shutil.rmtree(staging, ignore_errors=True)


def _write(staging: Path, item: JSON) -> str:
    name = str(item["name"])
    if Path(name).name != name or name.startswith("."):
        raise ValueError(f"the service named a bundle file {name!r}, which is not a plain file name")
    try:
        data = base64.b64decode(item["content"], validate=True)
    except (binascii.Error, TypeError):
        raise ValueError(f"{name} did not arrive as base64") from None
    if len(data) != item["size"] or hashlib.sha256(data).hexdigest() != item["sha256"]:
        raise ValueError(f"{name} arrived damaged (size or SHA-256 differ from what the service announced)")
    path = staging / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, int(item.get("mode", 0o600)) & 0o700)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    return name


async def make_and_write(client: AdminClient, directory: Path, name: str, chip: str, **options: Any) -> JSON:
    """Ask the service for a bundle and write it to `directory`; return what was written (no file contents).

    `options` are `AdminClient.make_bundle`'s. If the files cannot be written, the bundle is cancelled: its
    token's only copy is gone, and a station nobody can flash must not stay awaited.
    """
    target, staging = await asyncio.to_thread(stage, directory)
    try:
        answer = await client.make_bundle(name, chip, **options)
    except BaseException:
        await asyncio.to_thread(discard, staging)
        raise
    try:
        paths = await asyncio.to_thread(commit, staging, answer, target)
    except BundleWriteError as exc:
        with contextlib.suppress(AdminError):
            await client.cancel_bundle(answer["provision"]["name"])
        raise BundleWriteError(f"{exc}; the bundle was cancelled") from None
    return {
        "provision": answer["provision"],
        "directory": str(target),
        "files": [
            {key: item[key] for key in ("name", "offset", "size", "sha256")} | {"path": str(path)}
            for item, path in zip(answer["files"], paths, strict=True)
        ],
        "flashed": answer["flashed"],
        "command": answer["command"],
        "command_line": answer["command_line"],
    }
