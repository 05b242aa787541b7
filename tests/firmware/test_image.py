"""Import validation: real images are recognised; each kind of bad file is refused with its reason."""

from __future__ import annotations

import hashlib

import pytest

from services.errors import InvalidImage
from services.firmware.image import inspect_image
from tests.imagefactory import build_image, flip_byte, truncate


@pytest.mark.parametrize("chip", ["esp32", "esp32c3", "esp32s3", "esp32c6"])
def test_an_esp32_family_image_is_recognised_with_its_project_and_version(chip: str) -> None:
    data = build_image(chip, project="weather", version="1.4.0", payload_size=32 * 1024)
    info = inspect_image(data)
    assert (info.chip, info.project, info.version) == (chip, "weather", "1.4.0")
    assert info.size == len(data)
    assert info.md5 == hashlib.md5(data).hexdigest()
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.build_date == "Nov 24 2026 02:00:00"


def test_an_esp8266_image_is_recognised_without_an_app_description() -> None:
    info = inspect_image(build_image("esp8266"))
    assert (info.chip, info.project, info.version) == ("esp8266", None, None)


def refusal(data: bytes) -> str:
    """The message an import of `data` is refused with."""
    with pytest.raises(InvalidImage) as caught:
        inspect_image(data)
    return caught.value.message


@pytest.mark.parametrize("chip", ["esp8266", "esp32", "esp32c3"])
def test_a_truncated_download_is_refused_as_truncated(chip: str) -> None:
    data = build_image(chip, payload_size=16 * 1024)
    for keep in (30, len(data) // 2, len(data) - 40):
        assert refusal(truncate(data, keep)).startswith("truncated"), keep


def test_a_flipped_bit_fails_the_checksum_on_an_esp8266() -> None:
    data = build_image("esp8266", payload_size=8 * 1024)
    assert refusal(flip_byte(data, 100)).startswith("checksum mismatch")


def test_a_flipped_bit_fails_the_checksum_or_digest_on_an_esp32() -> None:
    data = build_image("esp32", payload_size=8 * 1024)
    assert refusal(flip_byte(data, 600)).startswith("checksum mismatch")
    assert refusal(flip_byte(data, -1)).startswith("SHA-256 digest mismatch")


def test_wrong_magic_and_files_that_are_not_firmware_say_what_they_look_like() -> None:
    assert "first byte is 0x7B" in refusal(b'{"error": "not found"}')
    assert "HTML" in refusal(b"<!DOCTYPE html><html>502 Bad Gateway</html>")
    assert "ELF file" in refusal(b"\x7fELF" + bytes(100))
    assert "merged flash image" in refusal(b"\xff" * 4096)
    assert refusal(b"") == "the file is empty"


def test_an_oversized_file_is_refused_before_parsing() -> None:
    with pytest.raises(InvalidImage, match="larger than the 1,000 allowed"):
        inspect_image(build_image("esp32"), max_size=1000)
