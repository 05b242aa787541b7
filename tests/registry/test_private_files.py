"""The registry holds the site's Wi-Fi passphrases: only the service's own user may read its files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from services.store.registry import Database


def mode(path: Path) -> int:
    """The permission bits of a file."""
    return stat.S_IMODE(os.stat(path).st_mode)


async def test_a_new_registry_and_its_wal_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "registry.sqlite3"
    old = os.umask(0o022)  # the usual umask would make them world-readable
    try:
        db = await Database.open(path)
    finally:
        os.umask(old)
    try:
        await db.write(lambda conn: conn.execute("INSERT INTO site_wifi (ssid, psk) VALUES ('AP1', 'secret-psk')"))
        for name in ("registry.sqlite3", "registry.sqlite3-wal", "registry.sqlite3-shm"):
            assert mode(tmp_path / name) == 0o600, name
    finally:
        await db.close()


async def test_an_older_world_readable_registry_is_made_private_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "registry.sqlite3"
    db = await Database.open(path)
    await db.close()
    os.chmod(path, 0o644)
    db = await Database.open(path)
    await db.close()
    assert mode(path) == 0o600
