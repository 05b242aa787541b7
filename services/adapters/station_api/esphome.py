"""The esp-web-tools style manifest that ESPHome's `update: platform: http_request` reads."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.adapters.station_api.keys import JOURNAL
from services.core.errors import NotFound
from services.core.labels import parse_tags
from services.core.macaddr import parse_mac
from services.core.models import FirmwareImage

# ESPHOME_VARIANT, which ESPHome compares with each build's chipFamily.
CHIP_FAMILY = {
    "esp8266": "ESP8266",
    "esp32": "ESP32",
    "esp32s2": "ESP32-S2",
    "esp32s3": "ESP32-S3",
    "esp32c2": "ESP32-C2",
    "esp32c3": "ESP32-C3",
    "esp32c5": "ESP32-C5",
    "esp32c6": "ESP32-C6",
    "esp32h2": "ESP32-H2",
    "esp32p4": "ESP32-P4",
}


async def station_manifest(request: web.Request) -> web.Response:
    """The manifest for one station: the image assigned to it (directly or by tag)."""
    registry = request.app[JOURNAL].registry
    station = await registry.stations.require(parse_mac(request.match_info["mac"]))
    image = await registry.images.assigned_for(station)
    if image is None:
        raise NotFound(f"nothing is assigned to {station.name}")
    return web.json_response(manifest(image, name=station.name))


async def tag_manifest(request: web.Request) -> web.Response:
    """The manifest for every station carrying a tag: the image assigned to that tag."""
    registry = request.app[JOURNAL].registry
    tag = parse_tags([request.match_info["tag"]])[0]
    for assignment in await registry.images.assignments():
        if assignment.tag == tag:
            image = await registry.images.get(assignment.sha256)
            if image is not None:
                return web.json_response(manifest(image, name=image.project or tag))
    raise NotFound(f"nothing is assigned to the tag {tag}")


def manifest(image: FirmwareImage, *, name: str) -> dict[str, Any]:
    """One build, for the image's own chip family only: another family finds no build and never installs it."""
    what = " ".join(v for v in (image.project, image.version) if v) or image.sha256[:12]
    return {
        "name": name,
        "version": image.version or image.sha256[:12],
        "builds": [
            {
                "chipFamily": CHIP_FAMILY[image.chip],
                "ota": {
                    "path": f"/firmware/{image.sha256}.bin",
                    "md5": image.md5,
                    "summary": f"{what} from Stationmaster",
                },
            }
        ],
    }
