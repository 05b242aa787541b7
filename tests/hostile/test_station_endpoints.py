"""Hostile input on every station route: never a 5xx, never a crash, and a refused request changes nothing.

The routes are read from the running app, so a route added later is attacked too. The scene has an
accepted station holding a token, a rejected one and images assigned to a station and to a tag, so that
hostile requests reach the deep paths (config, Range, manifests), not only the first check.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.hostile.background import Answer, BackgroundService, raw_request, request
from tests.hostile.strategies import (
    ENCODINGS,
    bodies,
    encode,
    fill,
    header_bytes,
    json_text,
    json_values,
    parameters,
    path_segment,
    query_strings,
    text_values,
)
from tests.imagefactory import build_image
from tests.stationkit import station_key

KNOWN_MAC = "24:0A:C4:00:20:01"
REJECTED_MAC = "24:0A:C4:00:20:02"
OTHER_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "G\u00c9T", "BREW"]
OTA_HEADERS = [
    "x-ESP8266-STA-MAC",
    "x-ESP32-STA-MAC",
    "x-ESP32-BASE-MAC",
    "x-ESP8266-AP-MAC",
    "x-ESP8266-free-space",
    "x-ESP32-free-space",
    "x-ESP8266-sketch-size",
    "x-ESP8266-sketch-md5",
    "x-ESP32-sketch-md5",
    "x-ESP32-sketch-sha256",
    "x-ESP8266-chip-size",
    "x-ESP8266-sdk-version",
    "x-ESP8266-mode",
    "x-ESP32-mode",
    "x-ESP8266-version",
    "x-ESP32-version",
]
OTHER_HEADERS = [
    "Range",
    "If-Range",
    "Authorization",
    "If-None-Match",
    "Content-Type",
    "Accept-Encoding",
    "Expect",
    "User-Agent",
    "X-Forwarded-For",
    "Host",
]


@dataclass(frozen=True, slots=True)
class Scene:
    """The service under attack and what it holds."""

    service: BackgroundService
    token: str
    sha256: str
    routes: list[tuple[str, str]] = field(repr=False)


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    """One service for every example (hypothesis runs hundreds); a stalled body is given up after 1 s."""
    service = BackgroundService(tmp_path_factory.mktemp("hostile-station"), request_timeout_s=1)
    checkin = {
        "mac": KNOWN_MAC,
        "chip": "esp32",
        "project": "hostile",
        "version": "1.0.0",
        "station_key": station_key(KNOWN_MAC),
    }
    assert _post(service, checkin).status == 200
    assert service.admin_json("POST", f"/v1/stations/{KNOWN_MAC}/accept").status == 200
    answer = _post(service, checkin)
    token = json.loads(answer.body)["token"]
    assert _post(service, {"mac": REJECTED_MAC}).status == 200
    assert service.admin_json("POST", f"/v1/stations/{REJECTED_MAC}/reject").status == 200
    image = build_image("esp32", project="hostile", version="2.0.0", payload_size=32 * 1024)
    uploaded = service.exchange(request("POST", "/v1/firmware", image, {"X-Filename": "hostile.bin"}), admin=True)
    sha256 = json.loads(uploaded.body)["sha256"]
    assert service.admin_json("POST", "/v1/assignments", {"image": sha256, "station": KNOWN_MAC}).status == 201
    assert service.admin_json("POST", f"/v1/stations/{KNOWN_MAC}/tags", {"add": ["fleet"]}).status == 200
    assert service.admin_json("POST", "/v1/assignments", {"image": sha256, "tag": "fleet"}).status == 201
    yield Scene(service, token, sha256, service.routes(0))
    service.stop()


def _post(service: BackgroundService, body: Mapping[str, object]) -> Answer:
    return service.exchange(request("POST", "/api/v1/checkin", json.dumps(body).encode(), {}))


FUZZ = settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
CHECKIN_FIELDS: dict[str, st.SearchStrategy[object]] = {
    "mac": st.sampled_from([KNOWN_MAC, REJECTED_MAC, "24-0a-c4-00-20-01", "240ac4002001", "24:0A:C4:00:20:0"])
    | st.from_regex(r"[0-9A-Fa-f:-]{10,20}", fullmatch=True),
    "chip": st.sampled_from(["esp32", "ESP32-C3", "esp8266", "esp32h2", "z80", "ESP32\x00"]),
    "project": text_values,
    "version": st.sampled_from(["1.0.0", "2.0.0", "v" * 64, "v" * 65]),
    "rssi": st.integers(-200, 100),
    "uptime_s": st.integers(-5, 2**64),
    "free_heap": st.integers(-5, 2**40),
    "free_sketch_space": st.integers(-5, 2**40),
    "restart_cause": text_values,
    "ip": st.sampled_from(["192.168.1.20", "::1", "fe80::1%eth0", "999.1.1.1", "1.2.3"]),
    "bssid": st.sampled_from(["AA:BB:CC:DD:EE:FF", "zz"]),
    "config_etag": text_values,
    "reset_reason": st.integers(-(2**40), 2**40),
    "events": st.lists(
        st.fixed_dictionaries(
            {"kind": st.sampled_from(["update_started", "message", "rebooted", "nonsense"]), "message": text_values}
        ),
        max_size=40,
    ),
}


@st.composite
def hostile_station_requests(draw: st.DrawFn, scene: Scene) -> bytes:
    """One raw request at one of the app's routes: hostile path, headers, body and encoding."""
    method, template = draw(st.sampled_from(scene.routes))
    if draw(st.integers(0, 9)) == 0:
        method = draw(st.sampled_from(OTHER_METHODS))
    values = {}
    for name in parameters(template):
        known = {"mac": [KNOWN_MAC, REJECTED_MAC, "240ac4002001"], "name": [scene.sha256 + ".bin", scene.sha256]}
        values[name] = draw(st.sampled_from(known.get(name, ["fleet"])) | path_segment)
    target = fill(template, values)
    if draw(st.booleans()):
        target += "?" + draw(query_strings)
    known_values = [
        KNOWN_MAC.encode(),
        b"Bearer " + scene.token.encode(),
        b"Bearer " + scene.token.encode() + b"x",
        b"bytes=100-",
        b"bytes=-100",
        b"bytes=0-0",
        b"bytes=" + b"9" * 5000 + b"-",
        b"bytes=\xd9\xa3-",
        b'"' + scene.sha256[:32].encode() + b'"',
        b"100-continue",
        b"4194304",
        b"1_000",
        b"\xd9\xa3",
        b"sketch",
        b"spiffs",
    ]
    names = draw(st.lists(st.sampled_from(OTA_HEADERS + OTHER_HEADERS), max_size=6))
    headers = [(name.encode(), draw(st.sampled_from(known_values) | header_bytes)) for name in names]
    if draw(st.booleans()):
        # Half the requests come from the station that holds a token, in a well-formed body with one or two
        # hostile fields: so that they get past the first check to the config, the events and the answers.
        headers.append((b"Authorization", b"Bearer " + scene.token.encode()))
        body = json_text({**BASE_CHECKIN, **draw(_hostile_fields())})
    else:
        body = draw(bodies(CHECKIN_FIELDS) | st.just(b""))
    encoding = draw(st.sampled_from(["plain"] * len(ENCODINGS) + list(ENCODINGS)))  # plain half the time
    extra, body, chunked = encode(body, encoding)
    return raw_request(method.encode("utf-8"), target.encode("latin-1"), headers + extra, body, chunked)


# A check-in that is also a valid events body (each endpoint ignores the fields it does not know).
BASE_CHECKIN = {
    "mac": KNOWN_MAC,
    "chip": "esp32",
    "version": "1.0.0",
    "rssi": -60,
    "uptime_s": 100,
    "events": [{"kind": "message", "message": "hello"}],
}


@st.composite
def _hostile_fields(draw: st.DrawFn) -> dict[str, object]:
    """One or two check-in (or events) fields with hostile values."""
    keys = draw(st.lists(st.sampled_from(sorted(CHECKIN_FIELDS)), min_size=1, max_size=2, unique=True))
    return {key: draw(CHECKIN_FIELDS[key] | json_values) for key in keys}


@FUZZ
@given(data=st.data())
def test_a_hostile_request_gets_an_answer_below_500_and_a_refusal_changes_nothing(
    scene: Scene, data: st.DataObject
) -> None:
    raw = data.draw(hostile_station_requests(scene))
    before = scene.service.snapshot()
    status = scene.service.send(raw)
    event(f"{raw.split(b' ', 2)[1].split(b'?')[0][:24]!r} answered {status}")  # --hypothesis-show-statistics
    assert status < 500, raw[:600]
    if status >= 400:
        assert scene.service.snapshot() == before, raw[:600]


@FUZZ
@given(body=st.fixed_dictionaries({}, optional=CHECKIN_FIELDS), authenticated=st.booleans())
def test_a_refused_check_in_changes_nothing(scene: Scene, body: dict[str, object], authenticated: bool) -> None:
    headers = {"Authorization": f"Bearer {scene.token}"} if authenticated else {}
    before = scene.service.snapshot()
    status = scene.service.send(request("POST", "/api/v1/checkin", json.dumps(body).encode(), headers))
    event(f"check-in answered {status}")
    assert status < 500, body
    if status >= 400:
        assert scene.service.snapshot() == before, body


def test_every_station_route_was_attacked(scene: Scene) -> None:
    # The fuzz draws from the running app's own table: every route the contract names is in it.
    templates = {template for _, template in scene.routes}
    assert {"/api/v1/checkin", "/api/v1/config", "/api/v1/events", "/api/v1/enrol", "/ota", "/ota/{mac}"} <= templates
    assert {"/firmware/{name}", "/esphome/station/{mac}/manifest.json", "/esphome/tag/{tag}/manifest.json"} <= templates


def test_after_the_attack_the_station_still_checks_in_and_the_registry_is_whole(scene: Scene) -> None:
    service = scene.service
    answer = service.exchange(
        request("POST", "/api/v1/checkin", json.dumps({"mac": "24:0A:C4:00:20:99", "rssi": -60}).encode(), {})
    )
    assert answer.status == 200
    assert service.integrity() == "ok"
