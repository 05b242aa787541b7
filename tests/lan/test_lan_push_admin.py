"""LAN push as the admin sees it: progress on the event stream, the outcome in the log with the password scheme
the device used, no password anywhere."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
from collections.abc import Callable
from typing import Any

import pytest

from appliance.contract.client import AdminClient, AdminError
from services.root.service import StationmasterService
from tests.imagefactory import build_image
from tests.lan.espota_station import OtaStation


async def test_a_push_reports_progress_and_its_outcome(admin: AdminClient) -> None:
    data = build_image("esp32", project="garden", version="3.0.0", payload_size=50_000)
    image = await admin.import_image(data, "garden.bin")
    station = OtaStation(password="hunter2", scheme="pbkdf2-sha256")
    await station.start()
    progress: list[dict[str, Any]] = []
    connected = asyncio.Event()

    async def listen() -> None:
        async for message in admin.stream_events(on_connect=connected.set):
            if message["kind"] == "lan_push_progress":
                progress.append(message)
            if message["kind"] == "lan_push_finished":
                return

    listener = asyncio.create_task(listen())
    try:
        await asyncio.wait_for(connected.wait(), 5)
        result = await admin.lan_push("127.0.0.1", image["sha256"][:10], port=station.port, password="hunter2")
        await asyncio.wait_for(listener, 5)
        with pytest.raises(AdminError) as refused:
            await admin.lan_push("127.0.0.1", image["sha256"][:10], port=station.port, password="wrong")
    finally:
        station.stop()
    assert bytes(station.received) == data
    assert (result["authenticated"], result["auth_scheme"]) == (True, "PBKDF2-HMAC-SHA256")
    assert progress[-1]["done"] == progress[-1]["total"] == len(data)
    assert 2 <= len(progress) <= 12, "progress comes in steps, not per packet"
    assert (refused.value.code, refused.value.status) == ("device_failed", 502)
    assert "refused the OTA password" in refused.value.message
    log = str(await admin.events(limit=50))
    assert f"pushed garden 3.0.0 to 127.0.0.1 ({len(data):,} bytes; password checked by PBKDF2-HMAC-SHA256)" in log
    assert "hunter2" not in log


async def push_from_the_shell(socket: str, *args: str, password: str) -> tuple[int, str, str]:
    """`stationmaster lan push ... --password` with the password typed on its standard input."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "appliance",
        "lan",
        "push",
        *args,
        "--password",
        env={**os.environ, "STATIONMASTER_ADMIN_SOCKET": socket},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(f"{password}\n".encode()), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.parametrize(
    ("device", "said"),
    [
        (lambda: OtaStation(password="hunter2"), "password checked by MD5)"),
        (lambda: OtaStation(password="hunter2", scheme="pbkdf2-sha256"), "password checked by PBKDF2-HMAC-SHA256)"),
        (
            lambda: OtaStation(password_hash=hashlib.md5(b"hunter2").hexdigest(), scheme="pbkdf2-sha256"),
            "password checked by PBKDF2-HMAC-SHA256 over its MD5",
        ),
    ],
    ids=["arduino-esp32 3.3.0", "arduino-esp32 3.3.1", "3.3.1 with an MD5 setPasswordHash"],
)
async def test_the_shell_says_which_scheme_the_device_used(
    service: StationmasterService, admin: AdminClient, device: Callable[[], OtaStation], said: str
) -> None:
    image = await admin.import_image(build_image("esp32", project="pump", payload_size=20_000), "pump.bin")
    station = device()
    await station.start()
    try:
        socket = str(service.settings.admin_socket)
        code, out, err = await push_from_the_shell(
            socket, "127.0.0.1", image["sha256"][:10], "--port", str(station.port), password="hunter2"
        )
        assert (code, err) == (0, "")
        assert said in out
        code, out, err = await push_from_the_shell(
            socket, "127.0.0.1", image["sha256"][:10], "--port", str(station.port), password="hunter3"
        )
    finally:
        station.stop()
    assert code != 0
    assert "refused the OTA password (Authentication Failed" in err
    assert "hunter" not in out + err
