"""Hostile input on every admin route: never a 5xx, never a crash, and a refused request changes nothing.

The routes are read from the running admin app, so a route added later is attacked too. Only people in
the socket's group can reach it, but a script with a bug is as hostile as an attacker.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from services.domain.firmware.image import inspect_image
from tests.hostile.background import BackgroundService, raw_request, request
from tests.hostile.strategies import (
    ENCODINGS,
    bodies,
    encode,
    fill,
    header_bytes,
    json_values,
    parameters,
    path_segment,
    query_strings,
    text_values,
)
from tests.imagefactory import build_image

KNOWN_MAC = "24:0A:C4:00:10:01"
UPLOAD_HEADERS = ["X-Filename", "X-Firmware-Project", "X-Firmware-Version", "Content-Type", "Expect"]


@dataclass(frozen=True, slots=True)
class Scene:
    """The service under attack, its image and its routes."""

    service: BackgroundService
    image: bytes = field(repr=False)
    sha256: str
    routes: list[tuple[str, str]] = field(repr=False)


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    """One service with a station, an image and an assignment for hostile requests to aim at."""
    service = BackgroundService(tmp_path_factory.mktemp("hostile-admin"), request_timeout_s=1)
    checkin = json.dumps({"mac": KNOWN_MAC, "chip": "esp32", "version": "1.0.0"}).encode()
    assert service.send(request("POST", "/api/v1/checkin", checkin, {"Content-Type": "application/json"})) == 200
    image = build_image("esp32", project="hostile", version="2.0.0")
    uploaded = service.exchange(request("POST", "/v1/firmware", image, {"X-Filename": "hostile.bin"}), admin=True)
    assert uploaded.status == 201
    sha256 = json.loads(uploaded.body)["sha256"]
    assert service.admin_json("POST", f"/v1/stations/{KNOWN_MAC}/accept").status == 200
    assert service.admin_json("POST", "/v1/assignments", {"image": sha256, "station": KNOWN_MAC}).status == 201
    assert service.admin_json("POST", "/v1/wifi", {"ssid": "AP1", "psk": "hostile-site-secret"}).status == 201
    rollout = {"image": sha256, "target": {"all": True}}  # rollout 1, for its routes to aim at
    assert service.admin_json("POST", "/v1/rollouts", rollout).status == 201
    yield Scene(service, image, sha256, service.routes(1))
    service.stop()


FUZZ = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _mutated(image: bytes) -> st.SearchStrategy[bytes]:
    """A real image cut short, with bytes flipped, or with garbage after it: deep paths of the validator."""
    size = len(image)
    flips = st.lists(st.tuples(st.integers(0, size - 1), st.integers(1, 255)), min_size=1, max_size=4)
    return (
        st.integers(1, size - 1).map(lambda keep: image[:keep])
        | flips.map(lambda changes: _flip(image, changes))
        | st.binary(min_size=1, max_size=64).map(lambda tail: image + tail)
        | st.binary(max_size=2000)
        # Fresh valid images, so that hostile names and labels reach the point where an import is stored.
        | st.tuples(st.sampled_from(["esp32", "esp32c3", "esp8266"]), st.integers(0, 2**32)).map(
            lambda chip_seed: build_image(chip_seed[0], version="", payload_size=512, seed=chip_seed[1])
        )
    )


def _flip(data: bytes, changes: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for offset, mask in changes:
        out[offset] ^= mask
    return bytes(out)


@st.composite
def hostile_admin_requests(draw: st.DrawFn, scene: Scene) -> bytes:
    """One raw request at one of the admin app's routes: hostile path, query, headers, body and encoding."""
    method, template = draw(st.sampled_from(scene.routes))
    if draw(st.integers(0, 9)) == 0:
        method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT"]))
    known = {
        "mac": [KNOWN_MAC, "24-0a-c4-00-10-01"],
        "prefix": [scene.sha256[:12], scene.sha256],
        "id": ["1"],
        "name": ["STA2", KNOWN_MAC],
    }
    values = {name: draw(st.sampled_from(known.get(name, ["1"])) | path_segment) for name in parameters(template)}
    target = fill(template, values)
    if draw(st.booleans()):
        target += "?" + draw(query_strings)
    if template == "/v1/firmware" and method == "POST":
        body = draw(_mutated(scene.image))
    else:
        targets = st.sampled_from([KNOWN_MAC, "fleet", scene.sha256[:8], "a" * 64, "", "esp32", "AP1"])
        keys = ["image", "station", "tag", "name", "add", "remove", "chip", "mac", "ssid", "psk", "nvs_size"]
        keys += ["firmware", "replace", "target", "waves", "soak_s", "min_rssi", "maintenance_window", "stations"]
        keys += ["all"]
        fields = {key: targets for key in keys}
        body = draw(bodies({**fields, "address": text_values, "port": json_values, "password": text_values}))
    names = draw(st.lists(st.sampled_from(UPLOAD_HEADERS), max_size=4))
    headers = [(name.encode(), draw(header_bytes)) for name in names]
    extra, body, chunked = encode(body, draw(st.sampled_from(ENCODINGS)))
    return raw_request(method.encode(), target.encode("latin-1"), headers + extra, body, chunked)


def _store_files(scene: Scene) -> list[str]:
    store = scene.service.service.settings.data_dir / "firmware"
    return sorted(str(p.relative_to(store)) for p in store.rglob("*")) if store.exists() else []


@FUZZ
@given(data=st.data())
def test_a_hostile_admin_request_gets_an_answer_below_500_and_a_refusal_changes_nothing(
    scene: Scene, data: st.DataObject
) -> None:
    raw = data.draw(hostile_admin_requests(scene))
    scene.service.settle()
    before, files_before = scene.service.snapshot(), _store_files(scene)
    status = scene.service.send_admin(raw)
    event(f"{raw.split(b' ', 2)[0]!r} {raw.split(b' ', 2)[1].split(b'?')[0][:30]!r} answered {status}")
    assert status < 500, raw[:600]
    if status >= 400:
        assert scene.service.snapshot() == before, raw[:600]
        assert _store_files(scene) == files_before, "a refused request stored no file"


@FUZZ
@given(
    data=st.data(),
    headers=st.dictionaries(st.sampled_from(UPLOAD_HEADERS[:3]), st.sampled_from(["x.bin", "1.0", ""]) | text_values),
)
def test_a_hostile_firmware_upload_is_refused_whole_or_stored_whole(
    scene: Scene, data: st.DataObject, headers: dict[str, str]
) -> None:
    body = data.draw(_mutated(scene.image))
    files_before, before = _store_files(scene), scene.service.snapshot()
    raw_headers = [(name.encode(), value.encode("utf-8", "surrogatepass")[:300]) for name, value in headers.items()]
    raw_headers = [(name, value.replace(b"\r", b"").replace(b"\n", b"")) for name, value in raw_headers]
    answer = scene.service.exchange(raw_request(b"POST", b"/v1/firmware", raw_headers, body, False), admin=True)
    event(f"upload answered {answer.status}")
    assert answer.status < 500, (body[:64], headers)
    if answer.status >= 400:
        assert _store_files(scene) == files_before
        assert scene.service.snapshot() == before
    else:
        # A mutation esptool still calls a valid image (a flash-size byte, say) is stored whole, as any image.
        sha256 = json.loads(answer.body)["sha256"]
        stored = scene.service.service.settings.data_dir / "firmware" / sha256[:2] / sha256
        assert inspect_image(stored.read_bytes()).sha256 == sha256


def test_every_admin_route_was_attacked(scene: Scene) -> None:
    templates = {template for _, template in scene.routes}
    assert {"/v1/status", "/v1/stations/{mac}/rename", "/v1/firmware", "/v1/assignments/{id}"} <= templates
    assert {"/v1/events", "/v1/events/stream", "/v1/lan/push", "/v1/stations/{mac}/settings"} <= templates
    assert {
        "/v1/backup",
        "/v1/restore",
        "/v1/feed",
        "/v1/onboarding/bundles",
        "/v1/wifi",
        "/v1/wifi/reveal",
    } <= templates
    assert {"/v1/usb/ports", "/v1/usb/ports/{name}", "/v1/usb/identify", "/v1/usb/flash", "/v1/usb/wifi"} <= templates
    assert {"/v1/rollouts", "/v1/rollouts/{id}", "/v1/rollouts/{id}/pause", "/v1/rollouts/{id}/rollback"} <= templates


def test_after_the_attack_the_admin_api_answers_and_the_registry_is_whole(scene: Scene) -> None:
    assert scene.service.admin_json("GET", "/v1/status").status == 200
    assert scene.service.integrity() == "ok"
