"""Tokens and Wi-Fi passwords reach only their station: never the log, never another station."""

from __future__ import annotations

import asyncio
import sqlite3

import aiohttp

from services.service import REGISTRY_FILE
from tests.conftest import ServeProcess
from tests.test_end_to_end import admin_command

PSK = "broome-wifi-secret-42"
MAC = "24:0A:C4:00:00:42"


async def _first_check_in(url: str) -> None:
    async with (
        aiohttp.ClientSession(url) as session,
        session.post("/api/v1/checkin", json={"mac": MAC, "chip": "esp32"}) as response,
    ):
        assert (await response.json())["status"] == "pending"


async def _after_accept(url: str) -> tuple[str, dict[str, object]]:
    async with aiohttp.ClientSession(url) as session:
        async with session.post("/api/v1/checkin", json={"mac": MAC, "chip": "esp32"}) as response:
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
    assert "was issued its token" in events.stdout
