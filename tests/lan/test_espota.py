"""LAN push to ArduinoOTA stations: the right password works with either generation of arduino-esp32's
challenge, a wrong one and a cut transfer fail clearly. The station is tests/lan/espota_station.py."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator

import pytest

from services.adapters.lan.espota import LEGACY_SCHEME, MD5_SCHEME, PBKDF2_SCHEME, PushFailed, push_image
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


async def push_to(ota: OtaStation, password: str | None) -> tuple[str | None, OtaStation]:
    """Start `ota` and push IMAGE to it with `password`: the scheme the push reports, and the station after it."""
    await ota.start()
    try:
        result = await push_image("127.0.0.1", ota.port, IMAGE, password=password, local_host="127.0.0.1")
        await asyncio.wait_for(ota.done.wait(), 5)
    finally:
        ota.stop()
    assert result.authenticated
    assert bytes(ota.received) == IMAGE
    assert ota.verdict == "ok"
    return result.auth_scheme, ota


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
    assert (result.authenticated, result.auth_scheme) == (False, None)


@pytest.mark.parametrize(("scheme", "named"), [("md5", MD5_SCHEME), ("pbkdf2-sha256", PBKDF2_SCHEME)])
async def test_the_right_password_passes_the_challenge_at_the_first_try(scheme: str, named: str) -> None:
    used, ota = await push_to(OtaStation(password="s3cret", scheme=scheme), "s3cret")
    assert used == named
    assert ota.auth_failures == 0


async def test_a_current_esp32_that_keeps_a_sha256_hash_takes_the_password() -> None:
    kept = hashlib.sha256(b"s3cret").hexdigest()  # setPasswordHash() as arduino-esp32 3.3.1's example shows it
    used, ota = await push_to(OtaStation(password_hash=kept, scheme="pbkdf2-sha256"), "s3cret")
    assert (used, ota.auth_failures) == (PBKDF2_SCHEME, 0)


async def test_a_current_esp32_that_keeps_an_md5_hash_is_answered_on_the_second_try_as_espota_does() -> None:
    kept = hashlib.md5(b"s3cret").hexdigest()  # an older sketch's setPasswordHash(), built with 3.3.1 or later
    used, ota = await push_to(OtaStation(password_hash=kept, scheme="pbkdf2-sha256"), "s3cret")
    assert used == LEGACY_SCHEME
    assert ota.auth_failures == 1


@pytest.mark.parametrize(("scheme", "tries"), [("md5", 1), ("pbkdf2-sha256", 2)])
async def test_a_wrong_password_is_refused_with_a_clear_message(scheme: str, tries: int) -> None:
    ota = OtaStation(password="s3cret", scheme=scheme)
    await ota.start()
    try:
        with pytest.raises(PushFailed, match="refused the OTA password") as refused:
            await push_image("127.0.0.1", ota.port, IMAGE, password="guess", local_host="127.0.0.1")
        with pytest.raises(PushFailed, match="asks for its OTA password and none was given"):
            await push_image("127.0.0.1", ota.port, IMAGE, local_host="127.0.0.1")
    finally:
        ota.stop()
    assert ota.received == bytearray()
    assert ota.auth_failures == tries  # the SHA-256 generation is tried once more with the password's MD5
    assert "Authentication Failed" in refused.value.message
    assert "guess" not in refused.value.message


async def test_a_challenge_of_another_length_is_refused_clearly() -> None:
    class Odd(asyncio.DatagramProtocol):  # not ArduinoOTA: a challenge neither generation sends
        transport: asyncio.DatagramTransport | None = None

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            assert self.transport is not None
            self.transport.sendto(b"AUTH " + b"ab" * 20, addr)

    transport, odd = await asyncio.get_running_loop().create_datagram_endpoint(Odd, local_addr=("127.0.0.1", 0))
    odd.transport = transport
    try:
        port = transport.get_extra_info("sockname")[1]
        with pytest.raises(PushFailed, match="a challenge of 40 hex digits"):
            await push_image("127.0.0.1", port, IMAGE, password="s3cret", local_host="127.0.0.1")
    finally:
        transport.close()


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
