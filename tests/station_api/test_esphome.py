"""ESPHome stations pull from the appliance: the manifest passes the checks ESPHome's http_request update applies."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urljoin

import aiohttp
import pytest

from appliance.contract.client import AdminClient
from appliance.contract.shapes import Image
from services.root.service import StationmasterService
from tests.imagefactory import build_image

MAC = "24:0A:C4:00:00:55"


def esphome_reads(manifest: Any, variant: str, current_version: str, source_url: str) -> tuple[str, str, str]:
    """What http_request_update.cpp makes of a manifest: (state, firmware URL, md5); raises where it errors."""
    if not isinstance(manifest.get("name"), str) or not isinstance(manifest.get("version"), str):
        raise ValueError("Manifest does not contain required fields")
    if not isinstance(manifest.get("builds"), list):
        raise ValueError("Manifest does not contain required fields")
    for build in manifest["builds"]:
        if not isinstance(build.get("chipFamily"), str):
            raise ValueError("Manifest does not contain required fields")
        if build["chipFamily"] == variant:
            ota = build.get("ota")
            if not isinstance(ota, dict) or not isinstance(ota.get("path"), str) or not isinstance(ota.get("md5"), str):
                raise ValueError("Manifest does not contain required fields")
            path = ota["path"]
            url = path if "http" in path else urljoin(source_url, path)
            state = "none" if manifest["version"] in ("", current_version) else "available"
            return state, url, ota["md5"]
    raise ValueError("Failed to parse JSON: no build for this chip family")


async def _assigned_station(http: aiohttp.ClientSession, admin: AdminClient, chip: str) -> Image:
    async with http.post("/api/v1/checkin", json={"mac": MAC, "chip": "esp32c3", "version": "2024.1.0"}) as r:
        assert r.status == 200
    await admin.accept(MAC)
    await admin.tag(MAC, add=["kitchen"])
    data = build_image(chip, project="kitchen-sensor", version="2024.6.0", payload_size=20_000)
    image = await admin.import_image(data, "kitchen.bin")
    await admin.assign(image["sha256"], tag="kitchen")
    return image


async def test_an_esphome_station_finds_its_update_and_downloads_exactly_it(
    http: aiohttp.ClientSession, admin: AdminClient, service: StationmasterService
) -> None:
    image = await _assigned_station(http, admin, "esp32c3")
    for path in (f"/esphome/station/{MAC}/manifest.json", "/esphome/tag/kitchen/manifest.json"):
        source = f"{service.station_url}{path}"
        async with http.get(path) as response:
            assert response.status == 200
            manifest = await response.json()
        state, url, md5 = esphome_reads(manifest, "ESP32-C3", "2024.1.0", source)
        assert (state, md5) == ("available", image["md5"])
        async with http.get(url) as response:
            body = await response.read()
        assert hashlib.md5(body).hexdigest() == md5
        assert esphome_reads(manifest, "ESP32-C3", "2024.6.0", source)[0] == "none", "same version: no update"


async def test_a_station_of_another_chip_family_finds_no_build(
    http: aiohttp.ClientSession, admin: AdminClient, service: StationmasterService
) -> None:
    await _assigned_station(http, admin, "esp32c3")
    async with http.get("/esphome/tag/kitchen/manifest.json") as response:
        manifest = await response.json()
    with pytest.raises(ValueError, match="no build for this chip family"):
        esphome_reads(manifest, "ESP32-S3", "2024.1.0", service.station_url)


async def test_nothing_assigned_and_unknown_names_are_clear_404s(http: aiohttp.ClientSession) -> None:
    for path in ("/esphome/tag/nowhere/manifest.json", f"/esphome/station/{MAC}/manifest.json", "/firmware/abc.bin"):
        async with http.get(path) as response:
            assert response.status == 404
            assert (await response.json())["error"]["code"] == "not_found"
