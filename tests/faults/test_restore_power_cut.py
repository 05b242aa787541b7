"""A power cut at any step of a restore: the next start finds the old state or the whole new one, never less.

The site has Wi-Fi whose passphrase the archive leaves out (a backup without secrets): the restored registry
must carry the appliance's own in the same step that makes it the registry, or every station's next config
would carry no network. `serve` is SIGKILLed just before each of the restore's file steps in turn
(tests/faults/killpoints.py), started again, and its registry read.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from appliance.contract.client import AdminClient
from services.root.service import REGISTRY_FILE
from tests.conftest import ServeProcess
from tests.faults.killpoints import environment, steps
from tests.stationkit import accepted, check_in

PSK = "broome-wifi-secret-42"
STA1, STA2, STA3 = "24:0A:C4:00:07:01", "24:0A:C4:00:07:02", "24:0A:C4:00:07:03"

State = tuple[frozenset[tuple[str, str]], tuple[tuple[str, str], ...]]


def _state(data_dir: Path) -> State:
    """(stations with their status, site networks with their passphrases) as the registry file holds them."""
    db = sqlite3.connect(data_dir / REGISTRY_FILE)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        stations = frozenset((str(m), str(s)) for m, s in db.execute("SELECT mac, status FROM stations"))
        wifi = tuple((str(n), str(p)) for n, p in db.execute("SELECT ssid, psk FROM site_wifi ORDER BY ssid"))
    finally:
        db.close()
    return stations, wifi


async def _site(tmp_path: Path) -> tuple[Path, Path, State, State]:
    """A stopped site's data folder and a backup of it (without secrets), then changed: (data, archive, old, new)."""
    (tmp_path / "template").mkdir()
    serve = ServeProcess(tmp_path / "template")
    await asyncio.to_thread(serve.start)
    archive = tmp_path / "site.tar.gz"
    async with AdminClient(serve.socket) as admin, aiohttp.ClientSession(base_url=serve.url) as http:
        await admin.add_wifi("AP1", PSK, priority=10)
        await accepted(http, admin, STA1)
        await check_in(http, STA2)
        await admin.backup(archive)
        await admin.retire(STA1)
        await check_in(http, STA3)
    assert serve.stop() == 0
    old = _state(serve.data_dir)
    new = (frozenset({(STA1, "accepted"), (STA2, "pending")}), (("AP1", PSK),))
    assert old != new
    assert old[1] == new[1]
    return serve.data_dir, archive, old, new


async def _restore_killed_at(tmp_path: Path, template: Path, archive: Path, at: int) -> ServeProcess:
    """Restore `archive` into a copy of the site with `serve` killed just before step `at` (0: not killed)."""
    run = tmp_path / f"cut-{at}"
    run.mkdir()
    serve = ServeProcess(run)
    await asyncio.to_thread(shutil.copytree, template, serve.data_dir)
    serve.extra_env = environment(run / "hook", serve.data_dir, run / "steps.log", at=at)
    await asyncio.to_thread(serve.start)
    async with AdminClient(serve.socket) as admin:
        try:
            await admin.restore(archive)
        except Exception:  # the service died under the request (what a power cut does to its client)
            assert at > 0
    if at > 0:
        assert serve.proc is not None
        assert await asyncio.to_thread(serve.proc.wait, 30) < 0, "the hook did not fire: fewer steps than counted"
    else:
        assert serve.stop() == 0
    return serve


@pytest.mark.slow
async def test_a_power_cut_at_any_step_of_a_restore_leaves_the_old_state_or_the_whole_new_one(tmp_path: Path) -> None:
    template, archive, old, new = await _site(tmp_path)
    recorded = await _restore_killed_at(tmp_path, template, archive, 0)
    counted = steps(recorded.log_path.parent / "steps.log")
    assert _state(recorded.data_dir) == new
    assert any(" os.rename " in step and step.endswith(REGISTRY_FILE) for step in counted), counted

    for at in range(1, len(counted) + 1):
        cut = await _restore_killed_at(tmp_path, template, archive, at)
        cut.extra_env = {}
        await asyncio.to_thread(cut.start)  # the power comes back
        assert cut.stop() == 0
        found = _state(cut.data_dir)
        assert found in (old, new), f"killed before step {counted[at - 1]!r}: {found}"
