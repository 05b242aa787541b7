"""LAN push as the admin sees it: progress on the event stream, the outcome in the log, no password anywhere."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from appliance.contract.client import AdminClient, AdminError
from tests.imagefactory import build_image
from tests.lan.espota_station import OtaStation


async def test_a_push_reports_progress_and_its_outcome(admin: AdminClient) -> None:
    data = build_image("esp32", project="garden", version="3.0.0", payload_size=50_000)
    image = await admin.import_image(data, "garden.bin")
    station = OtaStation(password="hunter2")
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
    assert result["authenticated"] is True
    assert progress[-1]["done"] == progress[-1]["total"] == len(data)
    assert 2 <= len(progress) <= 12, "progress comes in steps, not per packet"
    assert (refused.value.code, refused.value.status) == ("device_failed", 502)
    assert "refused the OTA password" in refused.value.message
    log = str(await admin.events(limit=50))
    assert "pushed garden 3.0.0 to 127.0.0.1" in log
    assert "hunter2" not in log
