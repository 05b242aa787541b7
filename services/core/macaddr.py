"""MAC addresses, the identity of a station: parse the forms firmware sends, print one canonical form."""

from __future__ import annotations

import re

from services.core.errors import InvalidInput

_HEX12 = re.compile(r"[0-9A-Fa-f]{12}")


def parse_mac(value: object) -> str:
    """Return `value` as `AA:BB:CC:DD:EE:FF`; accept `:`/`-` separated or bare hex; else raise InvalidInput."""
    if not isinstance(value, str):
        raise InvalidInput("mac must be a string")
    bare = value.strip().replace(":", "").replace("-", "")
    if len(value) > 17 or not _HEX12.fullmatch(bare):
        raise InvalidInput(f"{value[:40]!r} is not a MAC address (expected AA:BB:CC:DD:EE:FF)")
    if len(value.strip()) not in (12, 17):
        raise InvalidInput(f"{value[:40]!r} is not a MAC address (expected AA:BB:CC:DD:EE:FF)")
    return ":".join(bare[i : i + 2] for i in range(0, 12, 2)).upper()
