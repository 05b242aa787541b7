"""Import validation: real images are recognised, and each kind of bad file is refused saying exactly why."""

from __future__ import annotations

import hashlib
import re
import struct

import pytest
from esptool.targets import CHIP_DEFS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.core.chips import CHIPS
from services.core.errors import InvalidImage
from services.domain.firmware.image import CHIP_BY_IMAGE_ID, inspect_image
from tests.imagefactory import (
    ARDUINO_APP_AT,
    ARDUINO_CRC_AT,
    BUILD_DATE,
    BUILD_TIME,
    IDF_VERSION,
    build_bootloader,
    build_esp8266_single_image,
    build_image,
    build_merged_image,
    checksum_offset,
    crc32_msb_first,
    flip_byte,
    flip_checksum,
    flip_digest,
    partition_table,
    patch_and_reseal,
    truncate,
    with_chip_id,
    with_crc_in_padding,
)

ESP32_FAMILY = [chip for chip in CHIPS if chip != "esp8266"]
APP_DESC_AT = 0x20  # esp_app_desc_t: after the image header and the first segment's header


def refusal(data: bytes) -> str:
    """The reason an import of `data` is refused with."""
    with pytest.raises(InvalidImage) as caught:
        inspect_image(data)
    return caught.value.message


# Recognised


@pytest.mark.parametrize("chip", ESP32_FAMILY)
def test_an_esp32_family_app_is_recognised_with_its_project_and_version(chip: str) -> None:
    data = build_image(chip, project="weather", version="1.4.0", payload_size=32 * 1024)
    info = inspect_image(data)
    assert (info.chip, info.project, info.version) == (chip, "weather", "1.4.0")
    assert (info.idf_version, info.build_date) == (IDF_VERSION, f"{BUILD_DATE} {BUILD_TIME}")
    assert info.size == len(data)
    assert info.md5 == hashlib.md5(data).hexdigest()
    assert info.sha256 == hashlib.sha256(data).hexdigest()


def test_an_arduino_esp8266_build_is_recognised_though_it_has_no_app_description() -> None:
    data = build_image("esp8266", payload_size=64 * 1024)
    info = inspect_image(data)
    assert (info.chip, info.project, info.version, info.idf_version) == ("esp8266", None, None, None)
    assert (info.size, info.md5, info.sha256) == (
        len(data),
        hashlib.md5(data).hexdigest(),
        hashlib.sha256(data).hexdigest(),
    )


def test_an_esp8266_image_without_eboot_in_front_is_recognised() -> None:
    assert inspect_image(build_esp8266_single_image()).chip == "esp8266"


def test_the_arduino_crc_the_validator_checks_is_the_one_eboot_computes() -> None:
    data = build_image("esp8266")
    length, stored = struct.unpack_from("<II", data, ARDUINO_CRC_AT)
    assert length == len(data)
    assert stored == crc32_msb_first(data[:ARDUINO_CRC_AT] + bytes(8) + data[ARDUINO_CRC_AT + 8 :])


def test_an_arduino_build_from_an_older_core_keeps_its_crc_in_the_padding_and_is_checked_there() -> None:
    data = with_crc_in_padding(build_image("esp8266"))
    assert inspect_image(data).chip == "esp8266"
    assert refusal(flip_byte(data, ARDUINO_APP_AT - 1)).startswith("Arduino CRC-32 mismatch")


def test_every_chip_the_appliance_serves_has_the_image_chip_id_esptool_gives_it() -> None:
    served = {chip_id: name for chip_id, name in CHIP_BY_IMAGE_ID.items() if name in CHIPS}
    assert served == {0: "esp32", 2: "esp32s2", 5: "esp32c3", 9: "esp32s3", 12: "esp32c2"} | {
        13: "esp32c6",
        16: "esp32h2",
        18: "esp32p4",
        23: "esp32c5",
    }
    assert all(chip_id == CHIP_DEFS[name].IMAGE_CHIP_ID for chip_id, name in served.items())


def test_a_scrambled_app_description_is_read_without_crashing() -> None:
    data = build_image("esp32c3")
    garbage = bytes(range(0x80, 0x80 + 32))  # not UTF-8, not printable, no terminating NUL
    info = inspect_image(patch_and_reseal(data, APP_DESC_AT + 48, garbage))  # the project_name field
    assert info.chip == "esp32c3"
    assert info.project is not None
    assert info.project.isprintable()


def test_validation_prints_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    # The sketch's irom0 segment is one esptool calls "suspicious" on its process-wide logger.
    for chip in ("esp8266", "esp32", "esp32c3"):
        inspect_image(build_image(chip, payload_size=128 * 1024))
    assert capfd.readouterr() == ("", "")


# Refused: not firmware at all


def test_an_empty_file_is_refused() -> None:
    assert refusal(b"") == "not an ESP firmware image: the file is empty"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"error": "not found"}', "first byte is 0x7B, expected 0xE9 (it is JSON)"),
        (b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "0x3C, expected 0xE9 (it is an HTML"),
        (b"\x7fELF\x01\x01\x01" + bytes(100), "(it is an ELF file: import the .bin"),
        (b"\x1f\x8b\x08" + bytes(100), "(it is gzip-compressed"),
        (b"PK\x03\x04" + bytes(100), "(it is a zip archive"),
        (partition_table(), "first byte is 0xAA, expected 0xE9 (it is a partition table)"),
        (b"\xea\x04" + bytes(100), "ESP8266 SDK 'v2' image"),
        (b"hello, this is a README\n", "first byte is 0x68, expected 0xE9 (it is text)"),
    ],
)
def test_a_file_that_is_not_firmware_is_refused_saying_what_it_looks_like(content: bytes, reason: str) -> None:
    message = refusal(content)
    assert message.startswith("not an ESP firmware image: first byte is 0x")
    assert reason in message


def test_a_wrong_magic_byte_is_refused() -> None:
    data = bytearray(build_image("esp32"))
    data[0] = 0xE8
    assert refusal(bytes(data)) == "not an ESP firmware image: first byte is 0xE8, expected 0xE9"


def test_a_header_that_is_neither_esp8266_nor_esp32_is_refused() -> None:
    assert refusal(b"\xe9\x02\x02\x20" + b"\x55" * 60).startswith(
        "not an ESP firmware image: after the 0xE9 magic comes neither an ESP8266 segment (load address 0x55555555)"
    )


# Refused: damaged in transit


@pytest.mark.parametrize("chip", ["esp8266", "esp32", "esp32c3"])
def test_a_truncated_download_is_refused_and_says_it_is_truncated(chip: str) -> None:
    data = build_image(chip, payload_size=16 * 1024)
    for keep in (30, 100, len(data) // 2, checksum_offset(data), len(data) - 1):
        message = refusal(truncate(data, keep))
        assert message.startswith("truncated: "), (keep, message)
        assert f"the file ends at {keep}" in message, (keep, message)


def test_a_truncated_download_says_which_segment_was_cut() -> None:
    data = build_image("esp32c3", payload_size=16 * 1024)
    message = refusal(truncate(data, 5000))
    assert message == "truncated: segment 1 claims 16640 bytes at offset 32, the file ends at 5000"


def test_a_truncated_esp32_download_that_lost_its_digest_says_so() -> None:
    data = build_image("esp32")
    assert refusal(truncate(data, len(data) - 10)) == (
        f"truncated: the SHA-256 digest belongs at offset {len(data) - 32} (32 bytes),"
        f" the file ends at {len(data) - 10}"
    )


def test_an_arduino_download_that_stops_after_eboot_is_refused_as_truncated() -> None:
    data = build_image("esp8266")
    assert refusal(truncate(data, 3000)) == (
        "truncated: an Arduino build has its app at offset 4096 after the eboot loader, the file ends at 3000"
    )
    # Cut one byte into the app (only its magic arrived): found by hypothesis as an IndexError in CI.
    assert refusal(truncate(data, ARDUINO_APP_AT + 1)) == (
        "truncated: the file ends at 4097, inside the image header of the app at offset 4096"
    )
    message = refusal(truncate(data, ARDUINO_APP_AT + 4000))
    assert re.fullmatch(r"truncated: segment 1 of the app at offset 4096 claims \d+ bytes .* ends at 8096", message)


@pytest.mark.parametrize("chip", ["esp8266", "esp32", "esp32c3"])
def test_a_bad_checksum_is_refused_with_both_values(chip: str) -> None:
    data = build_image(chip)
    stored = data[checksum_offset(data)]
    label = " of the app at offset 4096" if chip == "esp8266" else ""
    assert refusal(flip_checksum(data)) == (
        f"checksum mismatch{label}: stored 0x{stored ^ 0xFF:02X}, computed 0x{stored:02X}"
    )


@pytest.mark.parametrize("chip", ["esp8266", "esp32", "esp32c3"])
def test_a_corrupted_byte_inside_the_code_fails_the_checksum(chip: str) -> None:
    data = build_image(chip, payload_size=8 * 1024)
    assert refusal(flip_byte(data, checksum_offset(data) - 1000)).startswith("checksum mismatch")


def test_a_bad_sha256_digest_is_refused() -> None:
    data = build_image("esp32c3")
    assert data[-32:] == hashlib.sha256(data[:-32]).digest()  # the digest covers everything before it
    broken = flip_digest(data)
    assert refusal(broken) == (
        f"SHA-256 digest mismatch: stored {broken[-32:].hex()[:16]}…, computed {data[-32:].hex()[:16]}…"
    )


def test_a_corrupted_arduino_crc_is_refused() -> None:
    data = build_image("esp8266")
    assert refusal(flip_byte(data, ARDUINO_CRC_AT + 4)).startswith("Arduino CRC-32 mismatch: stored 0x")


def test_a_signed_arduino_build_is_accepted_with_the_signature_after_the_recorded_length() -> None:
    # Arduino's signing appends the signature and its length after the build elf2bin measured.
    signature = bytes(range(256))
    info = inspect_image(build_image("esp8266") + signature + struct.pack("<I", len(signature)))
    assert info.chip == "esp8266"


# Refused: firmware, but not an app this appliance can hand out


def test_an_unknown_chip_id_is_refused() -> None:
    assert refusal(with_chip_id(build_image("esp32"), 99)) == "unknown chip id 99 in the image header"


def test_a_chip_esptool_knows_but_the_appliance_does_not_serve_is_refused() -> None:
    message = refusal(with_chip_id(build_image("esp32c6"), CHIP_DEFS["esp32c61"].IMAGE_CHIP_ID))
    assert message == "the image is for an esp32c61 (chip id 20), a chip this appliance does not serve"


def test_a_bootloader_is_refused_as_not_an_app() -> None:
    assert refusal(build_bootloader("esp32c3")) == (
        "this is a bootloader, not an app: all its 2 segments load into RAM"
    )


def test_a_merged_flash_image_is_refused_and_named() -> None:
    assert "a merged flash image? Import the app's own .bin" in refusal(build_merged_image("esp32c3"))
    # The classic ESP32 keeps its bootloader at 0x1000, so its merged image starts with erased flash.
    assert "a merged flash image or a flash dump" in refusal(build_merged_image("esp32"))


def test_an_esp32_image_without_an_app_description_is_refused() -> None:
    data = patch_and_reseal(build_image("esp32s3"), APP_DESC_AT, b"\0\0\0\0")
    assert refusal(data) == (
        "no app description in this esp32s3 image: its first flash segment starts with 0x00000000,"
        " expected the magic 0xABCD5432 of an ESP-IDF or Arduino app"
    )


def test_a_file_over_the_size_limit_is_refused_before_parsing() -> None:
    data = build_image("esp32")
    with pytest.raises(InvalidImage) as caught:
        inspect_image(data, max_size=1000)
    assert caught.value.message == f"the file has {len(data)} bytes, more than the 1000 allowed"
    assert inspect_image(data, max_size=len(data)).chip == "esp32"


# Whatever the damage, the answer is an image or a reason, never a crash


_SAMPLES = {chip: build_image(chip, payload_size=2048) for chip in ("esp8266", "esp32", "esp32c3")}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    chip=st.sampled_from(sorted(_SAMPLES)),
    damage=st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=1, max_value=255)), max_size=4),
    keep=st.one_of(st.none(), st.integers(min_value=1)),
)
def test_any_damage_is_either_accepted_or_refused_with_a_reason(
    chip: str, damage: list[tuple[int, int]], keep: int | None
) -> None:
    data = bytearray(_SAMPLES[chip])
    for offset, mask in damage:
        data[offset % len(data)] ^= mask
    if keep is not None:
        data = data[: keep % len(data) + 1]
    try:
        info = inspect_image(bytes(data))
    except InvalidImage:
        return  # refused: the message is what the other tests check
    assert info.sha256 == hashlib.sha256(data).hexdigest()
