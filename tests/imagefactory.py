"""Real image bytes for tests (built with esptool's classes) and the ways a file can be broken."""

from __future__ import annotations

from services.simulator.builds import build_app_image


def build_image(
    chip: str, *, project: str = "demo", version: str = "1.0.0", payload_size: int = 4096, seed: int = 0
) -> bytes:
    """A valid app image for `chip`."""
    return build_app_image(chip, project, version, payload_size, seed)


def truncate(data: bytes, keep: int) -> bytes:
    """The first `keep` bytes, as a download cut short leaves them."""
    return data[:keep]


def flip_byte(data: bytes, offset: int) -> bytes:
    """The image with one byte inverted at `offset` (negative counts from the end)."""
    broken = bytearray(data)
    broken[offset] ^= 0xFF
    return bytes(broken)
