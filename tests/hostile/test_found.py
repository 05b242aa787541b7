"""What the hostile-input tests found, pinned: each of these was a 500 (or worse) before its fix."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.hostile.background import Answer, BackgroundService, raw_request, request
from tests.imagefactory import build_image

MAC = "24:0A:C4:00:50:01"
JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True, slots=True)
class Scene:
    """An accepted esp32 station with a 64 KiB image assigned."""

    service: BackgroundService
    image: bytes


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    """The service and what it holds."""
    service = BackgroundService(tmp_path_factory.mktemp("found"))
    body = json.dumps({"mac": MAC, "chip": "esp32", "version": "1.0.0"}).encode()
    assert service.send(request("POST", "/api/v1/checkin", body, JSON)) == 200
    assert service.admin_json("POST", f"/v1/stations/{MAC}/accept").status == 200
    image = build_image("esp32", project="found", version="2.0.0", payload_size=64 * 1024)
    uploaded = service.exchange(request("POST", "/v1/firmware", image, {}), admin=True)
    sha256 = json.loads(uploaded.body)["sha256"]
    assert service.admin_json("POST", "/v1/assignments", {"image": sha256, "station": MAC}).status == 201
    yield Scene(service, image)
    service.stop()


def _with_the_image(scene: Scene, mac: str) -> None:
    """An accepted esp32 station `mac` with the scene's image assigned (the scene's own station has it)."""
    if mac == MAC:
        return
    body = json.dumps({"mac": mac, "chip": "esp32", "version": "1.0.0"}).encode()
    assert scene.service.send(request("POST", "/api/v1/checkin", body, JSON)) == 200
    assert scene.service.admin_json("POST", f"/v1/stations/{mac}/accept").status == 200
    sha256 = hashlib.sha256(scene.image).hexdigest()
    assert scene.service.admin_json("POST", "/v1/assignments", {"image": sha256, "station": mac}).status == 201


def _refused(scene: Scene, raw: bytes, status: int, *, admin: bool = False) -> Answer:
    before = scene.service.snapshot()
    answer = scene.service.exchange(raw, admin=admin)
    assert answer.status == status, answer
    assert scene.service.snapshot() == before
    return answer


def _message(answer: Answer) -> str:
    return str(json.loads(answer.body)["error"]["message"])


@pytest.mark.parametrize(
    "body",
    [
        b'{"mac": "24:0A:C4:00:50:01", "rssi": ' + b"9" * 5000 + b"}",  # more digits than int() converts
        b'{"mac": "24:0A:C4:00:50:01", "version": "\\ud800"}',  # a lone surrogate: not storable text
        b'{"mac": "24:0A:C4:00:50:01", "\\udfff": 1}',
        b'{"mac": "24:0A:C4:00:50:01", "rssi": NaN}',
    ],
)
def test_json_that_python_reads_but_nothing_can_store_is_a_clear_400(scene: Scene, body: bytes) -> None:
    answer = _refused(scene, request("POST", "/api/v1/checkin", body, JSON), 400)
    assert any(word in _message(answer) for word in ("too long", "not Unicode", "NaN is not a JSON number"))


def test_an_admin_body_with_nan_or_a_lone_surrogate_is_refused(scene: Scene) -> None:
    # NaN stored in a station's settings would have reached the station as JSON it cannot parse.
    settings = request("PUT", f"/v1/stations/{MAC}/settings", b'{"interval": NaN}', JSON)
    _refused(scene, settings, 400, admin=True)
    rename = request("POST", f"/v1/stations/{MAC}/rename", b'{"name": ' + b"1" * 5000 + b"}", JSON)
    _refused(scene, rename, 400, admin=True)
    tags = request("POST", f"/v1/stations/{MAC}/tags", b'{"add": ["\\ud800"]}', JSON)
    _refused(scene, tags, 400, admin=True)


@pytest.mark.parametrize(
    ("encoding", "body"), [(b"gzip", b"not gzip at all"), (b"deflate", b"\x00" + zlib.compress(b"{}"))]
)
def test_a_body_its_content_encoding_cannot_decode_is_a_clear_400(scene: Scene, encoding: bytes, body: bytes) -> None:
    raw = raw_request(b"POST", b"/api/v1/checkin", [(b"Content-Encoding", encoding)], body, chunked=False)
    assert "could not be read" in _message(_refused(scene, raw, 400))
    # An encoding aiohttp cannot decode at all (brotli is not installed) is refused before any handler.
    raw = raw_request(b"POST", b"/api/v1/checkin", [(b"Content-Encoding", b"br")], body, chunked=False)
    _refused(scene, raw, 400)


@pytest.mark.parametrize(
    "path",
    ["/v1/assignments/" + "9" * 30, "/v1/assignments/%C2%B2", "/v1/assignments/1_0"],
)
def test_an_assignment_id_that_is_not_plain_digits_is_a_400(scene: Scene, path: str) -> None:
    answer = _refused(scene, request("DELETE", path, b"", {}), 400, admin=True)
    assert "whole number" in _message(answer)


@pytest.mark.parametrize("limit", ["9" * 5000, "%C2%B2", "%D9%A3", "1_0"])
def test_a_query_number_that_is_not_plain_digits_is_a_400(scene: Scene, limit: str) -> None:
    _refused(scene, request("GET", f"/v1/events?limit={limit}", b"", {}), 400, admin=True)
    _refused(scene, request("GET", f"/v1/stations/{MAC}/checkins?limit={limit}", b"", {}), 400, admin=True)


@pytest.mark.parametrize(
    ("mac", "header"),
    [
        ("24:0A:C4:00:51:01", b"bytes=" + b"9" * 5000 + b"-"),
        ("24:0A:C4:00:51:02", b"bytes=\xd9\xa3-"),
        (MAC, b"bytes=1_0-"),
    ],
)
def test_a_range_that_is_not_plain_digits_is_ignored_and_the_image_sent_whole(
    scene: Scene, mac: str, header: bytes
) -> None:
    # A station of its own each: one station downloading the same image again and again is stopped.
    _with_the_image(scene, mac)
    headers = [(b"x-ESP32-STA-MAC", mac.encode()), (b"x-ESP32-version", b"1.0.0"), (b"Range", header)]
    answer = scene.service.exchange(raw_request(b"GET", b"/ota", headers, b"", chunked=False))
    assert (answer.status, answer.body) == (200, scene.image)


def test_a_free_space_header_that_is_not_plain_digits_is_a_400(scene: Scene) -> None:
    for value in (b"1_000", b"\xd9\xa3", b"9" * 30):
        headers = [(b"x-ESP32-STA-MAC", MAC.encode()), (b"x-ESP32-free-space", value)]
        _refused(scene, raw_request(b"GET", b"/ota", headers, b"", chunked=False), 400)


def test_a_firmware_name_with_a_line_break_is_a_404_not_a_500(scene: Scene) -> None:
    answer = _refused(scene, request("GET", "/firmware/%0A.bin", b"", {}), 404)
    assert "\\n" in _message(answer)


@pytest.mark.parametrize("path", [b"/api/v1/checkin", b"/no/such/route"])
def test_an_expect_header_that_is_not_utf8_is_a_417(scene: Scene, path: bytes) -> None:
    raw = raw_request(b"POST", path, [(b"Expect", b"\x80")], b"{}", chunked=False)
    assert _refused(scene, raw, 417).headers["content-type"].startswith("application/json")
    _refused(scene, raw_request(b"GET", b"/v1/status", [(b"Expect", b"\xff")], b"", chunked=False), 417, admin=True)
    continued = raw_request(
        b"POST", b"/api/v1/checkin", [(b"Expect", b"100-continue")], b'{"mac": "%s"}' % MAC.encode(), False
    )
    assert scene.service.exchange(continued).status == 200


def test_an_image_named_with_bytes_that_are_not_utf8_is_refused_and_not_stored(scene: Scene) -> None:
    store = scene.service.service.settings.data_dir / "firmware"
    files = sorted(store.rglob("*"))
    fresh = build_image("esp32", project="found", version="3.0.0")
    raw = raw_request(b"POST", b"/v1/firmware", [(b"X-Filename", b"\xed\xa0\x80.bin")], fresh, chunked=False)
    assert "file name" in _message(_refused(scene, raw, 400, admin=True))
    assert sorted(store.rglob("*")) == files


def test_a_restore_whose_gzip_body_is_broken_is_a_400(scene: Scene) -> None:
    # The restore route streams its body to a file itself: the refusal must not depend on each handler.
    raw = raw_request(b"POST", b"/v1/restore", [(b"Content-Encoding", b"gzip")], b"\x1f\x8b\x08x", chunked=False)
    assert "could not be read" in _message(_refused(scene, raw, 400, admin=True))
