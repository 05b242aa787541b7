"""Hostile input on every station endpoint: never a 5xx, never a crash, and a refused request changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostile.background import BackgroundService, request

ENDPOINTS = [
    ("POST", "/api/v1/checkin"),
    ("POST", "/api/v1/enrol"),
    ("POST", "/api/v1/events"),
    ("GET", "/api/v1/config"),
    ("GET", "/ota"),
    ("GET", "/ota/AA:BB:CC:DD:EE:FF"),
    ("GET", "/esphome/station/AA:BB:CC:DD:EE:FF/manifest.json"),
    ("GET", "/firmware/00.bin"),
    ("POST", "/api/v1/commands/1"),
    ("GET", "/metrics"),
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=20), inner, max_size=6),
    max_leaves=25,
)
station_like = st.fixed_dictionaries(
    {},
    optional={
        "mac": st.one_of(st.text(max_size=20), st.from_regex(r"[0-9A-Fa-f:-]{10,20}", fullmatch=True), json_values),
        "chip": st.one_of(st.sampled_from(["esp32", "ESP32-C3", "esp8266", "z80"]), json_values),
        "rssi": json_values,
        "uptime_s": json_values,
        "version": json_values,
        "ip": json_values,
        "events": json_values,
        "reset_reason": json_values,
        "status": st.one_of(st.sampled_from(["running", "succeeded", "failed"]), json_values),
        "message": json_values,
    },
)
header_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60)


@pytest.fixture(scope="module")
def background(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundService]:
    """One service for every example of the module (hypothesis runs hundreds)."""
    service = BackgroundService(tmp_path_factory.mktemp("hostile"))
    yield service
    service.stop()


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(endpoint=st.sampled_from(ENDPOINTS), body=station_like.map(json.dumps).map(str.encode) | st.binary(max_size=300))
def test_random_bodies_never_cause_a_server_error(
    background: BackgroundService, endpoint: tuple[str, str], body: bytes
) -> None:
    status = background.send(request(*endpoint, body, {"Content-Type": "application/json"}))
    assert status < 500, (endpoint, body)


@FUZZ
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    headers=st.dictionaries(
        st.sampled_from(
            [
                "x-ESP8266-STA-MAC",
                "x-ESP32-STA-MAC",
                "x-ESP32-BASE-MAC",
                "x-ESP8266-free-space",
                "x-ESP32-version",
                "x-ESP8266-mode",
                "x-ESP32-sketch-md5",
                "Range",
                "If-Range",
                "Authorization",
                "If-None-Match",
                "Content-Type",
            ]
        ),
        header_text,
        max_size=6,
    ),
)
def test_random_headers_never_cause_a_server_error(
    background: BackgroundService, endpoint: tuple[str, str], headers: dict[str, str]
) -> None:
    status = background.send(request(*endpoint, b"", headers))
    assert status < 500, (endpoint, headers)


@FUZZ
@given(body=station_like)
def test_a_refused_check_in_changes_nothing(background: BackgroundService, body: dict[str, object]) -> None:
    before = background.snapshot()
    status = background.send(request("POST", "/api/v1/checkin", json.dumps(body).encode(), {}))
    assert status < 500
    if status >= 400:
        assert background.snapshot() == before, body


def test_oversized_and_garbled_requests_are_refused_cleanly(background: BackgroundService) -> None:
    huge = request("POST", "/api/v1/checkin", b'{"mac": "' + b"A" * 100_000 + b'"}', {})
    assert background.send(huge) == 413
    assert background.send(b"NOT HTTP AT ALL\r\n\r\n") == 400
    assert background.send(request("POST", "/api/v1/checkin", b"{}", {"X-Long": "v" * 20_000})) in (400, 431)
