"""Tokens and Wi-Fi passwords reach only their station: never the log, never another station."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import subprocess
from pathlib import Path

import aiohttp

from services.domain.onboarding.nvs import NAMESPACE
from services.root.service import REGISTRY_FILE
from tests.conftest import ServeProcess, stationmaster_command
from tests.nvsformat import read_partition
from tests.stationkit import station_key
from tests.test_end_to_end import admin_command

PSK = "broome-wifi-secret-42"
MAC = "24:0A:C4:00:00:42"
BODY = {"mac": MAC, "chip": "esp32", "station_key": station_key(MAC)}


async def _first_check_in(url: str) -> None:
    async with (
        aiohttp.ClientSession(url) as session,
        session.post("/api/v1/checkin", json=BODY) as response,
    ):
        assert (await response.json())["status"] == "pending"


async def _after_accept(url: str) -> tuple[str, dict[str, object]]:
    async with aiohttp.ClientSession(url) as session:
        async with session.post("/api/v1/checkin", json=BODY) as response:
            token = str((await response.json())["token"])
        async with session.get("/api/v1/config", headers={"Authorization": f"Bearer {token}"}) as response:
            return token, await response.json()


def test_tokens_and_psks_never_reach_the_log(serve_process: ServeProcess) -> None:
    db = sqlite3.connect(serve_process.data_dir / REGISTRY_FILE, timeout=10)
    with db:
        db.execute("INSERT INTO site_wifi (ssid, psk) VALUES ('AP1', ?)", (PSK,))
    db.close()
    asyncio.run(_first_check_in(serve_process.url))
    assert admin_command(serve_process, "stations", "accept", MAC).returncode == 0
    token, config = asyncio.run(_after_accept(serve_process.url))
    assert config["wifi"] == [{"ssid": "AP1", "psk": PSK, "priority": 0, "hidden": False, "fallback": False}]
    listed = admin_command(serve_process, "stations", "show", MAC, "--json")
    events = admin_command(serve_process, "events", "--json", "--limit", "500")
    assert serve_process.stop() == 0
    log = serve_process.log_path.read_text()
    for place, text in (("the log", log), ("the admin view", listed.stdout), ("the event log", events.stdout)):
        assert token not in text, f"the token leaked into {place}"
        assert PSK not in text, f"the PSK leaked into {place}"
        assert station_key(MAC) not in text, f"the station key leaked into {place}"
    assert "was issued its token" in events.stdout


def test_bundle_tokens_and_site_passphrases_never_reach_the_log(serve_process: ServeProcess, tmp_path: Path) -> None:
    env = {**os.environ, "STATIONMASTER_ADMIN_SOCKET": str(serve_process.socket)}

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            stationmaster_command(*args), input=stdin, capture_output=True, text=True, env=env, timeout=120, check=False
        )

    assert run("wifi", "add", "AP1", stdin=PSK + "\n").returncode == 0
    bundle = tmp_path / "STA2-bundle"
    made = run("onboard", "bundle", "--name", "STA2", "--chip", "esp32", "--out", str(bundle))
    assert made.returncode == 0, made.stderr
    token = read_partition((bundle / "STA2-nvs.bin").read_bytes())[NAMESPACE]["token"].value
    assert isinstance(token, str)
    booted = run("simulate", "--from-bundle", str(bundle), "--interval", "0.5", "--duration", "3")
    assert booted.returncode == 0, booted.stderr
    views = [made, booted] + [
        run(*command, "--json")
        for command in (
            ("events", "--limit", "500"),
            ("stations",),
            ("onboard", "list"),
            ("wifi",),
            ("wifi", "rotation"),
        )
    ]
    assert "STA2 arrived" in views[2].stdout
    assert serve_process.stop() == 0
    log = serve_process.log_path.read_text()
    for place, text in [("the log", log)] + [(" ".join(v.args[3:5]), v.stdout + v.stderr) for v in views]:
        assert token not in text, f"the bundle's token leaked into {place}"
        assert PSK not in text, f"the site's passphrase leaked into {place}"
    assert stat.S_IMODE(os.stat(serve_process.data_dir / REGISTRY_FILE).st_mode) == 0o600
