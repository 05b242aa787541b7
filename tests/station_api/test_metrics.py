"""`GET /metrics` parses with prometheus-client's own parser and carries the fleet's figures and the process's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from appliance.contract.client import AdminClient
from services.root.service import StationmasterService
from tests.conftest import make_settings
from tests.imagefactory import build_image
from tests.stationkit import accepted, check_in

STA1, STA2, PENDING = "24:0A:C4:00:00:41", "5C:CF:7F:00:00:42", "24:0A:C4:00:00:43"


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[StationmasterService]:
    """A service whose /metrics shows each station (`[metrics] stations = true`; off by default)."""
    async with StationmasterService(make_settings(tmp_path, metrics_stations=True)) as running:
        yield running


async def scrape(http: aiohttp.ClientSession) -> dict[str, list[Sample]]:
    """Every sample of the endpoint, by family name, as Prometheus would read it."""
    async with http.get("/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await response.text()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def value(samples: list[Sample], **labels: str) -> float:
    """The value of the one sample whose labels include `labels`."""
    [found] = [s for s in samples if labels.items() <= s.labels.items()]
    return found.value


async def test_the_metrics_carry_each_stations_figures_restarts_versions_and_update_progress(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    token1 = await accepted(http, admin, STA1, rssi=-61, uptime_s=7200, free_heap=150_000)
    token2 = await accepted(http, admin, STA2, chip="esp8266", rssi=-82, uptime_s=500, free_heap=30_000)
    await check_in(http, PENDING, chip="esp32c3")
    await admin.rename(STA1, "STA1")
    for uptime, code in ((3, 7), (200, None), (4, 7), (300, None), (9, 9)):  # ESP_RST_WDT twice, then a brownout
        await check_in(http, STA1, token1, rssi=-64, uptime_s=uptime, free_heap=140_000, reset_reason=code)
    await check_in(http, STA2, token2, chip="esp8266", rssi=-83, uptime_s=2, reset_reason=1)  # REASON_WDT_RST
    for _ in range(3):
        await check_in(http, STA2, token2, chip="esp8266", rssi=-84, uptime_s=60)  # a weak-signal alert
    image = await admin.import_image(build_image("esp32", project="weather", version="1.0.0"), "w.bin")
    await admin.assign(image["sha256"], tag="garden")
    for mac in (STA1, STA2):
        await admin.tag(mac, add=["garden"])
    await admin.send_command(STA1, "identify")

    metrics = await scrape(http)

    assert value(metrics["stationmaster_station_rssi_dbm"], mac=STA1, name="STA1") == -64
    assert value(metrics["stationmaster_station_uptime_seconds"], mac=STA1) == 9
    assert value(metrics["stationmaster_station_free_heap_bytes"], mac=STA2) == 30_000
    seen = value(metrics["stationmaster_station_last_seen_timestamp_seconds"], mac=STA1)
    assert seen == (await admin.station(STA1))["last_seen_at"]
    assert value(metrics["stationmaster_station_up"], mac=STA1) == 1
    restarts = metrics["stationmaster_station_restarts"]
    assert value(restarts, mac=STA1, cause="watchdog") == 2
    assert value(restarts, mac=STA1, cause="brownout") == 1
    assert value(restarts, mac=STA2, cause="watchdog") == 1, "the ESP8266's code 1 and the ESP32's 7: one word"
    firmware = metrics["stationmaster_station_firmware_info"]
    assert value(firmware, mac=STA2, chip="esp8266", version="1.0.0") == 1
    assert value(metrics["stationmaster_stations"], state="online") == 2
    assert value(metrics["stationmaster_stations"], state="pending") == 1
    assert value(metrics["stationmaster_alerts_open"], kind="weak_signal") == 1
    assert value(metrics["stationmaster_station_alert"], mac=STA2, kind="weak_signal") == 1
    assert value(metrics["stationmaster_commands"], state="queued") == 1
    # The esp32 image is for STA1 only (STA2 is an esp8266), and STA1 already reports its version.
    progress = {"version": "1.0.0", "target": "tag:garden"}
    assert value(metrics["stationmaster_assignment_stations"], **progress) == 1
    assert value(metrics["stationmaster_assignment_updated_stations"], **progress) == 1
    assert sum(s.value for s in metrics["stationmaster_checkins"]) >= 14
    # The process's own figures, from prometheus-client's collectors.
    assert value(metrics["process_resident_memory_bytes"]) > 10 * 1024 * 1024
    assert "process_cpu_seconds" in metrics
    assert "python_info" in metrics
    assert "python_gc_objects_collected" in metrics


async def test_by_default_it_names_no_station_and_answers_this_machine_alone(tmp_path: Path) -> None:
    async with (
        StationmasterService(make_settings(tmp_path)) as service,
        aiohttp.ClientSession(base_url=service.station_url) as http,
    ):
        await check_in(http, PENDING)
        metrics = await scrape(http)
        assert value(metrics["stationmaster_stations"], state="pending") == 1
        assert not [name for name in metrics if name.startswith("stationmaster_station_")]
        # Another address (127.0.0.2 is this machine too, but not in `allow`) is told there is no such page.
        connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        async with (
            aiohttp.ClientSession(base_url=service.station_url, connector=connector) as stranger,
            stranger.get("/metrics") as response,
        ):
            assert response.status == 404


async def test_the_admin_can_turn_the_endpoint_off(tmp_path: Path) -> None:
    async with (
        StationmasterService(make_settings(tmp_path, metrics=False)) as service,
        aiohttp.ClientSession(base_url=service.station_url) as http,
        http.get("/metrics") as response,
    ):
        assert response.status == 404
