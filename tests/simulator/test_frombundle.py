"""A simulated station boots from a bundle's flash as a board would: the NVS inside the file the command writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance.contract import bundles
from appliance.contract.client import AdminClient
from services.simulator.frombundle import BundleError, boot_from_bundle
from tests.imagefactory import build_image


@pytest.fixture
async def site(admin: AdminClient) -> AdminClient:
    """A site with a network and a fallback."""
    await admin.add_wifi("AP1", "broome-ap1-secret", priority=10)
    await admin.add_wifi("Phone", "", fallback=True)
    return admin


async def test_it_reads_its_settings_from_the_merged_image_it_was_flashed_with(
    site: AdminClient, tmp_path: Path
) -> None:
    image = await site.import_image(build_image("esp32c3", version="2.0.0"), "c3.bin")
    await bundles.make_and_write(
        site, tmp_path / "b", "STA2", "esp32c3", firmware=image["sha256"], mac="24:0A:C4:00:00:22"
    )
    (tmp_path / "b" / "STA2-nvs.bin").unlink()  # the board only has what the printed command wrote
    booted = boot_from_bundle(tmp_path / "b")
    assert (booted.name, booted.chip, booted.mac) == ("STA2", "esp32c3", "24:0A:C4:00:00:22")
    assert [n["ssid"] for n in booted.networks] == ["AP1", "Phone"]
    assert booted.network_to_join()["ssid"] == "AP1", "a fallback only when nothing else can be joined"
    assert len(booted.token) >= 32


async def test_a_damaged_or_foreign_bundle_is_refused_with_the_reason(site: AdminClient, tmp_path: Path) -> None:
    await bundles.make_and_write(site, tmp_path / "b", "STA2", "esp32")
    nvs = tmp_path / "b" / "STA2-nvs.bin"
    data = bytearray(nvs.read_bytes())
    data[100] ^= 0xFF
    nvs.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="CRC"):
        boot_from_bundle(tmp_path / "b")
    (tmp_path / "b" / "bundle.json").write_text(json.dumps({"esptool": []}))
    with pytest.raises(BundleError, match="not a bench bundle"):
        boot_from_bundle(tmp_path / "b")
    with pytest.raises(BundleError, match="not a bench bundle"):
        boot_from_bundle(tmp_path / "nowhere")
