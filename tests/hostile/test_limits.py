"""Request and body size limits hold on both doors, however the bytes are framed or compressed."""

from __future__ import annotations

import gzip
import json
import socket
import time
from collections.abc import Iterator

import pytest

from tests.hostile.background import BackgroundService, raw_request, request

STATION_LIMIT = 16 * 1024  # the contract's cap on a station's JSON body
MAC = "24:0A:C4:00:30:01"


@pytest.fixture(scope="module")
def background(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundService]:
    """A service that gives a stalled body up after 1 s."""
    service = BackgroundService(tmp_path_factory.mktemp("limits"), request_timeout_s=1)
    body = json.dumps({"mac": MAC, "chip": "esp32"}).encode()
    assert service.send(request("POST", "/api/v1/checkin", body, {})) == 200
    yield service
    service.stop()


def _checkin_padded(size: int) -> bytes:
    return json.dumps({"mac": MAC, "pad": "x" * size}).encode()


def test_a_station_body_over_16_kib_is_refused_and_changes_nothing(background: BackgroundService) -> None:
    before = background.snapshot()
    answer = background.exchange(request("POST", "/api/v1/checkin", _checkin_padded(STATION_LIMIT), {}))
    assert answer.status == 413
    assert json.loads(answer.body)["error"]["code"] == "too_large"
    assert background.exchange(request("POST", "/api/v1/checkin", _checkin_padded(15_000), {})).status == 200
    assert background.snapshot()["events"] == before["events"]


def test_the_limit_holds_for_chunked_and_compressed_bodies(background: BackgroundService) -> None:
    before = background.snapshot()
    chunked = raw_request(b"POST", b"/api/v1/checkin", [], _checkin_padded(100_000), chunked=True)
    assert background.send(chunked) == 413
    # 50 MB of JSON squeezed into 50 KB: the limit counts what it inflates to, and the service stops there.
    bomb = gzip.compress(_checkin_padded(50_000_000))
    assert len(bomb) < 100_000
    started = time.monotonic()
    assert (
        background.send(raw_request(b"POST", b"/api/v1/checkin", [(b"Content-Encoding", b"gzip")], bomb, False)) == 413
    )
    assert time.monotonic() - started < 5, "the bomb was not inflated to the end"
    assert background.snapshot() == before


def test_an_admin_body_over_the_image_limit_is_refused_cleanly(background: BackgroundService) -> None:
    before = background.snapshot()
    limit = background.service.settings.max_image_bytes  # the admin API's body limit is an image's
    huge = json.dumps({"name": "n" * (limit + 4096)}).encode()
    assert background.send_admin(request("POST", f"/v1/stations/{MAC}/rename", huge, {})) == 413
    assert background.send_admin(request("POST", "/v1/firmware", bytes(limit + 4096), {})) == 413
    assert background.snapshot() == before


def test_header_limits_hold(background: BackgroundService) -> None:
    long_line = request("GET", "/ota", b"", {"x-ESP32-STA-MAC": MAC, "X-Long": "v" * 20_000})
    assert background.send(long_line) in (400, 431)
    many = request("GET", "/ota", b"", {"x-ESP32-STA-MAC": MAC} | {f"X-{n}": "a" for n in range(200)})
    assert background.send(many) in (400, 431)
    assert background.send(b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n") in (400, 414)
    assert background.send(b"NOT HTTP AT ALL\r\n\r\n") == 400
    assert background.send_admin(b"GARBAGE\r\n\r\n") == 400


def test_a_body_shorter_than_its_content_length_is_given_up_with_408(background: BackgroundService) -> None:
    before = background.snapshot()
    with socket.create_connection(("127.0.0.1", background.port), timeout=10) as sock:
        head = b"POST /api/v1/checkin HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n"
        sock.sendall(head + b'{"mac": "' + MAC.encode())
        started = time.monotonic()
        answer = sock.recv(4096)
        answered = time.monotonic() - started
        while chunk := sock.recv(4096):  # the service hangs up once it has dropped what else comes
            answer += chunk
        hung_up = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    assert 0.8 < answered < 3, "given up after request_timeout_s (1 s here)"
    assert hung_up < 5, "and the connection closed after at most as long again"
    assert background.snapshot() == before
