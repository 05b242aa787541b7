"""Backup and restore through the running service, with simulated stations checking in all along."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import socket
import sqlite3
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from appliance.contract.client import AdminClient, AdminError
from services.domain.backup.archive import archive_name
from services.domain.backup.secrets import SECRET_TABLES
from services.root.service import REGISTRY_FILE
from services.simulator import SimulatedFleet
from tests.conftest import ServeProcess
from tests.imagefactory import build_image
from tests.test_end_to_end import admin_command

PSK = "broome-wifi-secret-42"
# This machine's name as a backup's name holds it (the rule itself: the last test).
PI = archive_name(socket.gethostname(), at=0).removeprefix("stationmaster-").removesuffix("-19700101T000000Z.tar.gz")
FAST = 0.2
STATIONS = 12


@pytest.fixture
async def busy_site(serve_process: ServeProcess) -> AsyncIterator[tuple[ServeProcess, SimulatedFleet]]:
    """`serve` in its own process, Wi-Fi with a password, three images, and 12 stations checking in every 0.2 s."""
    db = sqlite3.connect(serve_process.data_dir / REGISTRY_FILE, timeout=10)
    with db:  # the admin side of Wi-Fi arrives with onboarding (#5); until then the test writes the row
        db.execute("INSERT INTO site_wifi (ssid, psk) VALUES ('AP1', ?)", (PSK,))
    db.close()
    async with AdminClient(serve_process.socket) as admin:
        for version in ("1.0.0", "1.1.0", "1.2.0"):
            await admin.import_image(build_image("esp32", project="weather", version=version), f"w-{version}.bin")
    fleet = SimulatedFleet(url=serve_process.url, count=STATIONS, interval_s=FAST, crash_rate=0, chips=["esp32"])
    async with fleet:
        await _until(lambda: _count(serve_process) == STATIONS)
        yield serve_process, fleet


async def test_a_restore_while_stations_check_in_brings_back_every_station_and_image(
    busy_site: tuple[ServeProcess, SimulatedFleet], tmp_path: Path
) -> None:
    serve, fleet = busy_site
    archive = tmp_path / "site.tar.gz"
    async with AdminClient(serve.socket) as admin:
        for station in (await admin.stations())[:4]:
            await admin.accept(station["mac"])
        # The backup is taken once the accepted stations hold their tokens, as it would be on a settled site.
        await _until(lambda: _tokens(serve) == 4)
        saved = await admin.backup(archive)
        assert saved["bytes"] == archive.stat().st_size
        assert archive.stat().st_mode & 0o777 == 0o600
        before = {s["mac"]: s["status"] for s in await admin.stations()}
        images = sorted(i["sha256"] for i in await admin.images())

        # Life goes on, then goes wrong: a station retired by mistake, an image deleted.
        retired = next(iter(before))
        await admin.retire(retired)
        await admin.delete_image(images[0])
        # The retired station is rightly refused until the restore brings it back: its errors are its own.
        others = [s for s in fleet.stations if s.mac != retired]
        errors_before = sum(s.stats.errors for s in others)

        summary = await admin.restore(archive)
        assert (summary["stations"], summary["images"]) == (STATIONS, 3)
        assert summary["secrets"] is False
        assert summary["secrets_kept"] == {"site_wifi": 1}

        after = {s["mac"]: s["status"] for s in await admin.stations()}
        assert after == before
        assert sorted(i["sha256"] for i in await admin.images()) == images
        assert (serve.data_dir / "firmware" / images[0][:2] / images[0]).is_file()
        kinds = [e["kind"] for e in await admin.events(limit=5)]
        assert "backup_restored" in kinds
        # The stations never noticed: they kept checking in through the swap, and still do.
        seen = fleet.stats.checkins
        await _until(lambda: fleet.stats.checkins > seen + STATIONS)
        assert sum(s.stats.errors for s in others) == errors_before
    assert serve.stop() == 0
    registry = sqlite3.connect(serve.data_dir / REGISTRY_FILE)
    try:
        assert registry.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # The archive left the PSK out; the restore kept the one the appliance had.
        assert registry.execute("SELECT psk FROM site_wifi").fetchall() == [(PSK,)]
    finally:
        registry.close()
    assert (serve.data_dir / "registry.before-restore.sqlite3").is_file()


async def test_secrets_are_in_the_archive_only_when_asked(
    busy_site: tuple[ServeProcess, SimulatedFleet], tmp_path: Path
) -> None:
    serve, _ = busy_site
    async with AdminClient(serve.socket) as admin:
        await admin.backup(tmp_path / "plain.tar.gz")
        await admin.backup(tmp_path / "secret.tar.gz", include_secrets=True)
    # Not a byte of it anywhere in the plain archive, deleted pages included.
    assert PSK.encode() not in gzip.decompress((tmp_path / "plain.tar.gz").read_bytes())
    assert PSK.encode() in gzip.decompress((tmp_path / "secret.tar.gz").read_bytes())
    with tarfile.open(tmp_path / "plain.tar.gz") as tar:
        names = tar.getnames()
    assert names[0] == "stationmaster-backup/manifest.json"
    assert "stationmaster-backup/registry.sqlite3" in names
    assert sum(name.startswith("stationmaster-backup/firmware/") for name in names) == 3


async def test_a_damaged_archive_is_refused_and_changes_nothing(
    busy_site: tuple[ServeProcess, SimulatedFleet], tmp_path: Path
) -> None:
    serve, _ = busy_site
    good = tmp_path / "good.tar.gz"
    async with AdminClient(serve.socket) as admin:
        await admin.backup(good)
        await admin.retire((await admin.stations())[0]["mac"])
        before = await admin.stations()
        cut = tmp_path / "cut.tar.gz"
        cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
        other = tmp_path / "other.tar.gz"
        other.write_bytes(gzip.compress(b"not a tar at all" * 100))
        for bad, reason in ((cut, "damaged or cut short"), (other, "cannot be read")):
            with pytest.raises(AdminError) as refused:
                await admin.restore(bad)
            assert refused.value.code == "invalid_backup"
            assert reason in refused.value.message
        assert [s["status"] for s in await admin.stations()] == [s["status"] for s in before]
    assert not (serve.data_dir / "registry.before-restore.sqlite3").exists()


async def test_the_cli_backs_up_and_restores(busy_site: tuple[ServeProcess, SimulatedFleet], tmp_path: Path) -> None:
    serve, _ = busy_site
    archive = tmp_path / "cli.tar.gz"
    made = await asyncio.to_thread(admin_command, serve, "backup", "-o", str(archive))
    assert made.returncode == 0, made.stderr
    assert "secrets left out" in made.stdout
    # Without a terminal to confirm on, a restore needs --yes: it replaces the whole registry.
    unconfirmed = await asyncio.to_thread(admin_command, serve, "restore", str(archive))
    assert unconfirmed.returncode == 2
    assert "--yes" in unconfirmed.stderr
    restored = await asyncio.to_thread(admin_command, serve, "restore", "--yes", str(archive), "--json")
    assert restored.returncode == 0, restored.stderr
    assert f'"stations": {STATIONS}' in restored.stdout
    # Into a folder (the current one by default), the archive is named after the Pi the service runs on.
    folder = tmp_path / "backups"
    folder.mkdir()
    named = await asyncio.to_thread(admin_command, serve, "backup", "-o", str(folder))
    assert named.returncode == 0, named.stderr
    (saved,) = folder.iterdir()
    assert re.fullmatch(rf"stationmaster-{re.escape(PI)}-\d{{8}}T\d{{6}}Z\.tar\.gz", saved.name), saved.name


def test_every_secret_looking_column_is_in_a_secret_table(tmp_path: Path) -> None:
    """A migration that adds a password or key column must name its table in SECRET_TABLES."""
    from services.store.registry.database import migration_scripts

    db = sqlite3.connect(tmp_path / "schema.sqlite3")
    for _, _, sql in migration_scripts():
        db.executescript(sql)
    secretish = ("psk", "password", "secret", "private", "passphrase")
    found = [
        (table, column)
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        for column in (row[1] for row in db.execute(f"PRAGMA table_info({table})"))
        if any(word in column.lower() for word in secretish)
    ]
    db.close()
    assert found, "the schema has Wi-Fi passwords: the scan must find them"
    assert [(t, c) for t, c in found if t not in SECRET_TABLES] == []


def _tokens(serve: ServeProcess) -> int:
    result = admin_command(serve, "stations", "--json")
    return sum(s["has_token"] for s in json.loads(result.stdout)["stations"]) if result.returncode == 0 else 0


def _count(serve: ServeProcess) -> int:
    result = admin_command(serve, "status", "--json")
    return int(sum(json.loads(result.stdout)["counts"].values())) if result.returncode == 0 else 0


async def _until(condition: object, timeout_s: float = 30.0) -> None:
    """Poll `condition` (another process gives no event for it) every 0.1 s until true, or fail."""
    assert callable(condition)
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await asyncio.to_thread(condition):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.1)


async def test_the_tui_palette_backs_up_the_site(
    busy_site: tuple[ServeProcess, SimulatedFleet], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui.app import StationmasterApp

    serve, _ = busy_site
    monkeypatch.setenv("HOME", str(tmp_path))
    app = StationmasterApp(serve.socket)
    async with app.run_test() as pilot:
        app.action_backup()
        await app.workers.wait_for_complete()
        await pilot.pause()
    (saved,) = await asyncio.to_thread(lambda: list(tmp_path.glob(f"stationmaster-{PI}-*.tar.gz")))
    with tarfile.open(saved) as tar:
        assert "stationmaster-backup/registry.sqlite3" in tar.getnames()


@pytest.mark.parametrize(
    ("host", "name"),
    [
        ("broome", "stationmaster-broome-20250301T101500Z.tar.gz"),
        ("broome.lan", "stationmaster-broome-20250301T101500Z.tar.gz"),
        ("Bret's Pi", "stationmaster-Bret-s-Pi-20250301T101500Z.tar.gz"),
        ("", "stationmaster-site-20250301T101500Z.tar.gz"),
    ],
)
def test_a_backup_is_named_after_the_pi_and_the_time(host: str, name: str) -> None:
    assert archive_name(host, at=1740824100) == name
