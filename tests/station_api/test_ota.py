"""The stock update clients get 304 or exactly the assigned image, and resume a broken download."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import aiohttp
import pytest

from appliance.contract.client import AdminClient
from services.root.service import StationmasterService
from tests.conftest import loose
from tests.imagefactory import build_image
from tests.stock_clients import (
    esp32_httpupdate_headers,
    esp8266_httpupdate_headers,
    esp_https_ota_headers,
    esp_https_ota_partial_requests,
)

ESP8266_MAC = "5C:CF:7F:00:00:01"
ESP32_MAC = "24:0A:C4:00:00:01"
C3_MAC = "34:85:18:00:00:01"
RUNNING_MD5 = "0" * 32


def esp8266(mac: str = ESP8266_MAC, **kw: Any) -> dict[str, str]:
    """Headers of ESP8266httpUpdate on a station running version 1.0.0."""
    args: dict[str, Any] = {
        "sta_mac": mac,
        "free_space": 1_000_000,
        "sketch_size": 300_000,
        "sketch_md5": RUNNING_MD5,
        "version": "1.0.0",
    }
    args.update(kw)
    return esp8266_httpupdate_headers(**args)


def esp32(mac: str = ESP32_MAC, **kw: Any) -> dict[str, str]:
    """Headers of arduino-esp32's HTTPUpdate on a station running version 1.0.0."""
    args: dict[str, Any] = {
        "sta_mac": mac,
        "free_space": 1_900_000,
        "sketch_size": 900_000,
        "sketch_md5": RUNNING_MD5,
        "version": "1.0.0",
    }
    args.update(kw)
    return esp32_httpupdate_headers(**args)


async def enrol(http: aiohttp.ClientSession, admin: AdminClient, mac: str, chip: str, **fields: Any) -> None:
    """A station checks in and the admin accepts it."""
    body = {"mac": mac, "chip": chip, "project": "weather", "version": "1.0.0", **fields}
    async with http.post("/api/v1/checkin", json=body) as response:
        assert response.status == 200
    await admin.accept(mac)


async def publish(admin: AdminClient, chip: str, version: str = "1.1.0", size: int = 64 * 1024) -> tuple[bytes, str]:
    """Import a real image and return (bytes, sha256)."""
    data = build_image(chip, project="weather", version=version, payload_size=size)
    image = await admin.import_image(data, f"weather-{chip}-{version}.bin")
    return data, image["sha256"]


async def poll(
    http: aiohttp.ClientSession, headers: dict[str, str], path: str = "/ota"
) -> tuple[int, dict[str, str], bytes]:
    """GET the OTA URL as a stock client would."""
    async with http.get(path, headers=headers) as response:
        return response.status, dict(response.headers), await response.read()


class EventWaiter:
    """Listen on the admin event stream from before an action until an event of a kind arrives."""

    def __init__(self, admin: AdminClient, kind: str) -> None:
        self._admin, self._kind = admin, kind
        self._connected = asyncio.Event()
        self._task: asyncio.Task[dict[str, Any]] | None = None

    async def __aenter__(self) -> EventWaiter:
        self._task = asyncio.create_task(self._listen())
        await asyncio.wait_for(self._connected.wait(), 5)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        if not self._task.done():
            self._task.cancel()

    async def event(self) -> dict[str, Any]:
        """The awaited event (at most 5 s)."""
        assert self._task is not None
        return await asyncio.wait_for(self._task, 5)

    async def _listen(self) -> dict[str, Any]:
        async for message in self._admin.stream_events(on_connect=self._connected.set):
            if message["kind"] == self._kind:
                return message
        raise AssertionError("the stream ended")


async def test_an_unknown_esp8266_gets_304_and_waits_as_pending(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    status, _, body = await poll(http, esp8266())
    assert (status, body) == (304, b"")
    station = await admin.station(ESP8266_MAC)
    assert (station["status"], station["chip"]) == ("pending", "esp8266")


async def test_nothing_assigned_means_304(http: aiohttp.ClientSession, admin: AdminClient) -> None:
    await enrol(http, admin, ESP32_MAC, "esp32")
    assert (await poll(http, esp32()))[0] == 304


@pytest.mark.parametrize(
    ("chip", "mac", "headers"),
    [
        ("esp8266", ESP8266_MAC, lambda: esp8266()),
        ("esp32", ESP32_MAC, lambda: esp32()),
        ("esp32c3", C3_MAC, lambda: esp32(C3_MAC)),
    ],
)
async def test_the_assigned_image_is_sent_whole_with_its_md5(
    http: aiohttp.ClientSession, admin: AdminClient, chip: str, mac: str, headers: Any
) -> None:
    await enrol(http, admin, mac, chip)
    data, sha = await publish(admin, chip)
    await admin.assign(sha, station=mac)
    async with EventWaiter(admin, "download_finished") as waiter:
        status, answer_headers, body = await poll(http, headers())
        assert status == 200
        assert body == data
        assert int(answer_headers["Content-Length"]) == len(data)
        assert answer_headers["x-MD5"] == hashlib.md5(body).hexdigest()
        assert (await waiter.event())["mac"] == mac


async def test_esp_https_ota_uses_the_per_station_url(http: aiohttp.ClientSession, admin: AdminClient) -> None:
    await enrol(http, admin, ESP32_MAC, "esp32")
    data, sha = await publish(admin, "esp32")
    await admin.assign(sha, station=ESP32_MAC)
    status, _, body = await poll(http, esp_https_ota_headers(), f"/ota/{ESP32_MAC.replace(':', '').lower()}")
    assert (status, body) == (200, data)
    assert (await poll(http, esp_https_ota_headers(), "/ota"))[0] == 400, "no identity, no image"


async def test_a_broken_download_resumes_with_range(http: aiohttp.ClientSession, admin: AdminClient) -> None:
    await enrol(http, admin, ESP32_MAC, "esp32")
    data, sha = await publish(admin, "esp32", size=2 * 1024 * 1024)
    await admin.assign(sha, station=ESP32_MAC)
    received = bytearray()
    async with EventWaiter(admin, "download_interrupted") as waiter:
        async with http.get("/ota", headers=esp32(free_space=4_000_000)) as response:
            assert response.status == 200
            etag = response.headers["ETag"]
            while len(received) < 100_000:
                received += await response.content.read(8192)
            response.close()  # the link drops
        interrupted = await waiter.event()
    assert interrupted["data"]["bytes"] < len(data)
    async with http.get(
        "/ota", headers={**esp32(free_space=4_000_000), "Range": f"bytes={len(received)}-", "If-Range": etag}
    ) as response:
        assert response.status == 206
        assert response.headers["Content-Range"] == f"bytes {len(received)}-{len(data) - 1}/{len(data)}"
        assert response.headers["x-MD5"] == hashlib.md5(data).hexdigest()
        received += await response.read()
    assert bytes(received) == data


async def test_ranges_beyond_the_image_are_refused(http: aiohttp.ClientSession, admin: AdminClient) -> None:
    await enrol(http, admin, ESP32_MAC, "esp32")
    data, sha = await publish(admin, "esp32")
    await admin.assign(sha, station=ESP32_MAC)
    status, headers, _ = await poll(http, {**esp32(), "Range": f"bytes={len(data)}-"})
    assert (status, headers["Content-Range"]) == (416, f"bytes */{len(data)}")
    status, _, body = await poll(http, {**esp32(), "Range": "bytes=0-1,5-6"})
    assert (status, body) == (200, data), "multiple ranges: the whole image"


async def test_a_station_already_running_the_image_gets_304(http: aiohttp.ClientSession, admin: AdminClient) -> None:
    await enrol(http, admin, ESP32_MAC, "esp32")
    data, sha = await publish(admin, "esp32", version="1.1.0")
    await admin.assign(sha, station=ESP32_MAC)
    assert (await poll(http, esp32(version="1.1.0")))[0] == 304
    assert (await poll(http, esp32(sketch_md5=hashlib.md5(data).hexdigest())))[0] == 304


async def test_an_image_is_never_offered_to_another_chip(http: aiohttp.ClientSession, admin: AdminClient) -> None:
    await enrol(http, admin, ESP32_MAC, "esp32")
    await admin.tag(ESP32_MAC, add=["garden"])
    _, sha = await publish(admin, "esp32c3")
    await admin.assign(sha, tag="garden")
    assert (await poll(http, esp32()))[0] == 304
    station = loose(await admin.station(ESP32_MAC))
    assert "for esp32c3, this station is esp32" in station["ota_note"]


async def test_an_image_that_does_not_fit_is_held_back_with_a_reason(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    await enrol(http, admin, ESP8266_MAC, "esp8266")
    data, sha = await publish(admin, "esp8266", size=200 * 1024)
    await admin.assign(sha, station=ESP8266_MAC)
    assert (await poll(http, esp8266(free_space=len(data) - 1)))[0] == 304
    assert "does not fit" in loose(await admin.station(ESP8266_MAC))["ota_note"]
    assert (await poll(http, esp8266(free_space=len(data))))[0] == 200


async def test_a_tag_assignment_reaches_every_tagged_station(http: aiohttp.ClientSession, admin: AdminClient) -> None:
    await enrol(http, admin, ESP32_MAC, "esp32")
    await admin.tag(ESP32_MAC, add=["garden"])
    data, sha = await publish(admin, "esp32")
    await admin.assign(sha, tag="garden")
    status, _, body = await poll(http, esp32())
    assert (status, body) == (200, data)


async def test_rejected_stations_and_filesystem_requests_get_403(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    await enrol(http, admin, ESP32_MAC, "esp32")
    status, _, body = await poll(http, esp32(mode="spiffs"))
    assert status == 403
    assert b"filesystem" in body
    await admin.reject(ESP32_MAC)
    assert (await poll(http, esp32()))[0] == 403


async def test_a_mangled_header_is_a_clear_400(http: aiohttp.ClientSession) -> None:
    status, _, body = await poll(http, esp8266(mac="zz:zz"))
    assert status == 400
    assert b"not a MAC address" in body
    status, _, body = await poll(http, {**esp8266(), "x-ESP8266-free-space": "lots"})
    assert status == 400
    assert b"x-ESP8266-free-space" in body


async def test_a_station_reporting_the_images_app_digest_gets_304(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    """x-ESP32-sketch-sha256 is the image's appended digest (esp-idf), not the SHA-256 of the whole file."""
    await enrol(http, admin, ESP32_MAC, "esp32")
    data, sha = await publish(admin, "esp32", version="1.1.0")
    await admin.assign(sha, station=ESP32_MAC)
    appended = data[-32:].hex()
    assert appended == hashlib.sha256(data[:-32]).hexdigest()
    assert (await poll(http, esp32(version="unknown", sketch_sha256=sha.upper())))[0] == 200, (
        "the file's SHA-256 is not it"
    )
    assert (await poll(http, esp32(version="unknown", sketch_sha256=appended.upper())))[0] == 304


async def test_an_http10_arduino_client_gets_exact_bytes_on_the_wire(
    http: aiohttp.ClientSession, admin: AdminClient, service: StationmasterService
) -> None:
    """The Arduino clients speak HTTP/1.0 and need Content-Length: no chunked encoding, no keep-alive."""
    await enrol(http, admin, ESP8266_MAC, "esp8266")
    data, sha = await publish(admin, "esp8266")
    await admin.assign(sha, station=ESP8266_MAC)
    host, port = service.station_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    request = "GET /ota HTTP/1.0\r\nHost: stationmaster.local\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in esp8266().items()
    )
    writer.write(request.encode() + b"\r\n")
    raw = await asyncio.wait_for(reader.read(), 10)  # the server closes an HTTP/1.0 connection
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    assert lines[0].startswith("HTTP/1.")
    assert " 200 " in lines[0]
    assert "chunked" not in headers.get("transfer-encoding", "")
    assert int(headers["content-length"]) == len(data)
    assert headers["x-md5"] == hashlib.md5(data).hexdigest()
    assert body == data
    assert body[0] == 0xE9, "ESP8266httpUpdate refuses an image whose first byte is not 0xE9"


async def test_esp_https_ota_partial_download_reassembles_the_image(
    http: aiohttp.ClientSession, admin: AdminClient
) -> None:
    """HEAD for the size, then 64 KiB Range slices, as esp_https_ota's partial_http_download asks."""
    await enrol(http, admin, ESP32_MAC, "esp32")
    data, sha = await publish(admin, "esp32", size=200 * 1024)
    await admin.assign(sha, station=ESP32_MAC)
    url = f"/ota/{ESP32_MAC}"
    received = bytearray()
    for method, byte_range in esp_https_ota_partial_requests(len(data)):
        headers = esp_https_ota_headers() | ({"Range": byte_range} if byte_range else {})
        async with http.request(method, url, headers=headers) as response:
            assert response.status in (200, 206)
            if method == "HEAD":
                assert int(response.headers["Content-Length"]) == len(data)
                assert await response.read() == b""
            else:
                received += await response.read()
    assert bytes(received) == data


async def test_a_chip_without_wifi_is_known_by_its_base_mac(http: aiohttp.ClientSession, admin: AdminClient) -> None:
    await enrol(http, admin, ESP32_MAC, "esp32")
    data, sha = await publish(admin, "esp32")
    await admin.assign(sha, station=ESP32_MAC)
    headers = {k: v for k, v in esp32().items() if k not in ("x-ESP32-STA-MAC", "x-ESP32-AP-MAC")}
    headers["x-ESP32-BASE-MAC"] = ESP32_MAC
    status, _, body = await poll(http, headers)
    assert (status, body) == (200, data)
