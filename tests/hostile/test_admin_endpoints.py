"""Hostile input on every admin route: never a 5xx, never a crash, and a refused request changes nothing."""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostile.background import ADMIN_TABLES, BackgroundService, request
from tests.imagefactory import build_image

KNOWN_MAC = "24:0A:C4:00:10:01"
path_text = st.text(max_size=40).map(lambda text: urllib.parse.quote(text, safe=""))
# "%C2%B9" is "¹", which str.isdigit() takes for a digit and int() refuses.
path_value = st.sampled_from([KNOWN_MAC, "24-0a-c4-00-10-01", "zz", "0", "1", "%C2%B9", "../../etc"]) | path_text
ROUTES = [
    ("GET", "/v1/stations/{}"),
    ("GET", "/v1/stations/{}/checkins"),
    ("POST", "/v1/stations/{}/rename"),
    ("POST", "/v1/stations/{}/tags"),
    ("PUT", "/v1/stations/{}/settings"),
    ("POST", "/v1/stations/{}/accept"),
    ("POST", "/v1/stations/{}/reject"),
    ("POST", "/v1/stations/{}/retire"),
    ("GET", "/v1/firmware/{}"),
    ("DELETE", "/v1/firmware/{}"),
    ("POST", "/v1/assignments"),
    ("DELETE", "/v1/assignments/{}"),
    ("POST", "/v1/lan/push"),
    ("POST", "/v1/firmware"),
    ("GET", "/v1/events"),
    ("GET", "/v1/stations"),
    ("GET", "/v1/lan"),
    ("GET", "/v1/status"),
    ("POST", "/v1/commands"),
    ("GET", "/v1/commands"),
    ("GET", "/v1/commands/{}"),
    ("POST", "/v1/commands/{}/cancel"),
    ("GET", "/v1/alerts"),
    ("POST", "/v1/alerts/{}/clear"),
    ("GET", "/v1/stations/{}/restarts"),
    ("GET", "/v1/stations/{}/rollups"),
    ("GET", "/v1/rollouts"),
    ("POST", "/v1/rollouts"),
    ("GET", "/v1/rollouts/{}"),
    ("POST", "/v1/rollouts/{}/pause"),
    ("POST", "/v1/rollouts/{}/resume"),
    ("POST", "/v1/rollouts/{}/cancel"),
    ("POST", "/v1/rollouts/{}/rollback"),
    ("POST", "/v1/rollouts/{}/approve"),
    ("POST", "/v1/onboarding/bundles"),
    ("GET", "/v1/onboarding/bundles"),
    ("DELETE", "/v1/onboarding/bundles/{}"),
    ("GET", "/v1/wifi"),
    ("POST", "/v1/wifi"),
    ("DELETE", "/v1/wifi"),
    ("POST", "/v1/wifi/reveal"),
    ("GET", "/v1/wifi/rotation"),
    ("GET", "/v1/usb/ports"),
    ("GET", "/v1/usb/ports/{}"),
    ("POST", "/v1/usb/identify"),
    ("POST", "/v1/usb/flash"),
    ("POST", "/v1/usb/wifi"),
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=60),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
# Bodies shaped like the real ones (the keys the handlers read) with hostile values, or plain garbage.
admin_like = st.fixed_dictionaries(
    {},
    optional={
        key: json_values | st.sampled_from([KNOWN_MAC, "fleet", "a" * 64, "", "esp32", "AP1"])
        for key in (
            "name",
            "add",
            "remove",
            "image",
            "station",
            "tag",
            "port",
            "target",
            "waves",
            "soak_s",
            "min_rssi",
            "maintenance_window",
            "stations",
            "all",
            "chip",
            "mac",
            "ssid",
            "psk",
            "nvs_size",
            "kind",
            "args",
            "ttl_s",
            "force",
            "firmware",
            "replace",
        )
    },
)
bodies = (
    admin_like.map(json.dumps).map(str.encode) | json_values.map(json.dumps).map(str.encode) | st.binary(max_size=300)
)
queries = st.dictionaries(
    st.sampled_from(["limit", "before", "mac", "kind", "x", "ssid", "override", "station", "open", "all", "span"]),
    st.text(max_size=20),
    max_size=3,
)
header_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60)


@pytest.fixture(scope="module")
def background(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundService]:
    """One service with a station, an image, a rollout of it and the site Wi-Fi for hostile requests to aim at."""
    service = BackgroundService(tmp_path_factory.mktemp("hostile-admin"))
    checkin = json.dumps({"mac": KNOWN_MAC, "chip": "esp32", "version": "1.0.0"}).encode()
    assert service.send(request("POST", "/api/v1/checkin", checkin, {"Content-Type": "application/json"})) == 200
    image = build_image("esp32", project="hostile", version="2.0.0")
    assert service.send_admin(request("POST", "/v1/firmware", image, {"X-Filename": "hostile.bin"})) == 201
    assert service.send_admin(request("POST", f"/v1/stations/{KNOWN_MAC}/accept", b"", {})) == 200
    digest = hashlib.sha256(image).hexdigest()
    rollout = json.dumps({"image": digest, "target": {"all": True}}).encode()  # rollout 1, for its routes
    assert service.send_admin(request("POST", "/v1/rollouts", rollout, {"Content-Type": "application/json"})) == 201
    wifi = json.dumps({"ssid": "AP1", "psk": "hostile-site-secret"}).encode()
    assert service.send_admin(request("POST", "/v1/wifi", wifi, {"Content-Type": "application/json"})) == 201
    yield service
    service.stop()


def _target(template: str, value: str, query: dict[str, str]) -> str:
    path = template.format(value) if "{}" in template else template
    return path + ("?" + urllib.parse.urlencode(query) if query else "")


FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(route=st.sampled_from(ROUTES), value=path_value, query=queries, body=bodies)
def test_hostile_admin_requests_get_an_answer_and_refusals_change_nothing(
    background: BackgroundService, route: tuple[str, str], value: str, query: dict[str, str], body: bytes
) -> None:
    method, template = route
    before = background.snapshot(ADMIN_TABLES)
    status = background.send_admin(
        request(method, _target(template, value, query), body, {"Content-Type": "application/json"})
    )
    assert status < 500, (method, template, value, query, body)
    if status >= 400:
        assert background.snapshot(ADMIN_TABLES) == before, (method, template, value, body)


@FUZZ
@given(
    body=st.binary(max_size=2000),
    headers=st.dictionaries(
        st.sampled_from(["X-Filename", "X-Firmware-Project", "X-Firmware-Version", "Content-Type"]),
        header_text,
        max_size=4,
    ),
)
def test_a_hostile_firmware_upload_is_refused_and_stores_nothing(
    background: BackgroundService, body: bytes, headers: dict[str, str]
) -> None:
    store = background.service.settings.data_dir / "firmware"
    files_before = sorted(p.name for p in store.rglob("*")) if store.exists() else []
    before = background.snapshot(ADMIN_TABLES)
    status = background.send_admin(request("POST", "/v1/firmware", body, headers))
    assert 400 <= status < 500, (body[:64], headers)
    assert background.snapshot(ADMIN_TABLES) == before
    assert (sorted(p.name for p in store.rglob("*")) if store.exists() else []) == files_before


def test_an_admin_body_over_the_limit_is_refused_cleanly(background: BackgroundService) -> None:
    before = background.snapshot(ADMIN_TABLES)
    limit = background.service.settings.max_image_bytes  # the admin API's body limit is an image's
    huge = json.dumps({"name": "n" * (limit + 4096)}).encode()
    assert background.send_admin(request("POST", f"/v1/stations/{KNOWN_MAC}/rename", huge, {})) == 413
    assert background.send_admin(b"GARBAGE\r\n\r\n") == 400
    assert background.snapshot(ADMIN_TABLES) == before
