"""LAN push to ArduinoOTA stations: the right password works, a wrong one and a cut transfer fail clearly."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator

import pytest

from services.lan.espota import PushFailed, push_image
from tests.imagefactory import build_image
from tests.lan.espota_station import OtaStation

IMAGE = build_image("esp32", project="garden", version="2.0.0", payload_size=40 * 1024)


@pytest.fixture
async def station() -> AsyncIterator[OtaStation]:
    """An ArduinoOTA station without a password."""
    ota = OtaStation()
    await ota.start()
    yield ota
    ota.stop()


async def test_a_push_without_password_delivers_the_exact_image(station: OtaStation) -> None:
    seen: list[tuple[int, int]] = []
    result = await push_image(
        "127.0.0.1",
        station.port,
        IMAGE,
        local_host="127.0.0.1",
        progress=lambda done, total: seen.append((done, total)),
    )
    await asyncio.wait_for(station.done.wait(), 5)
    assert station.verdict == "ok"
    assert hashlib.md5(station.received).hexdigest() == result.md5 == hashlib.md5(IMAGE).hexdigest()
    assert seen[-1] == (len(IMAGE), len(IMAGE))
    assert not result.authenticated


@pytest.mark.parametrize("hash_name", ["md5", "sha256"])
async def test_the_right_password_passes_the_challenge(hash_name: str) -> None:
    ota = OtaStation(password="s3cret", hash_name=hash_name)
    await ota.start()
    try:
        result = await push_image("127.0.0.1", ota.port, IMAGE, password="s3cret", local_host="127.0.0.1")
        await asyncio.wait_for(ota.done.wait(), 5)
    finally:
        ota.stop()
    assert (result.authenticated, result.hash_name, ota.verdict) == (True, hash_name, "ok")
    assert bytes(ota.received) == IMAGE


@pytest.mark.parametrize("hash_name", ["md5", "sha256"])
async def test_a_wrong_password_is_refused_with_a_clear_message(hash_name: str) -> None:
    ota = OtaStation(password="s3cret", hash_name=hash_name)
    await ota.start()
    try:
        with pytest.raises(PushFailed, match="refused the OTA password"):
            await push_image("127.0.0.1", ota.port, IMAGE, password="guess", local_host="127.0.0.1")
        with pytest.raises(PushFailed, match="asks for its OTA password and none was given"):
            await push_image("127.0.0.1", ota.port, IMAGE, local_host="127.0.0.1")
    finally:
        ota.stop()
    assert ota.received == bytearray()


async def test_a_transfer_cut_midway_is_reported_as_failed() -> None:
    ota = OtaStation(cut_after=10_000)
    await ota.start()
    try:
        with pytest.raises(PushFailed, match=r"after [\d,]+ of [\d,]+ bytes"):
            await push_image("127.0.0.1", ota.port, IMAGE, local_host="127.0.0.1")
    finally:
        ota.stop()
    assert ota.verdict == "cut"


async def test_nobody_listening_is_a_clear_failure() -> None:
    silent = OtaStation()
    await silent.start()
    port = silent.port
    silent.stop()
    with pytest.raises(PushFailed, match=r"no answer from 127\.0\.0\.1"):
        await push_image("127.0.0.1", port, IMAGE, local_host="127.0.0.1", invite_tries=2)
