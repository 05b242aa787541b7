"""The admin contract's own version: what a client and the appliance compare to know what they can do together.

`major.minor`: the major is the path prefix (/v1/) and changes only when old clients would break; each minor
adds to what a client may ask for, and a client speaking a newer minor falls back for an older appliance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

API_VERSION = (1, 1)
# What each minor added: what an older appliance lacks, in words.
ADDED = {(1, 1): "the compact event stream that picks up where it left off after a dropped link"}


def api_text(version: tuple[int, int] = API_VERSION) -> str:
    """`1.1`."""
    return f"{version[0]}.{version[1]}"


def appliance_api(status: Mapping[str, Any]) -> tuple[int, int]:
    """The contract version an appliance states in its status (one that states none speaks 1.0)."""
    major, dot, minor = str(status.get("api") or "1.0").partition(".")
    try:
        return int(major), int(minor) if dot else 0
    except ValueError:
        return 1, 0


def compatibility(status: Mapping[str, Any], mine: str, *, client: str = "this TUI") -> str | None:
    """A plain sentence when the appliance runs another version than `mine` (None when it is the same)."""
    theirs, ours = appliance_api(status), API_VERSION
    version = str(status.get("version") or "an unknown version")
    if version == mine and theirs == ours:
        return None
    who = (
        f"The appliance runs Stationmaster {version} (admin API {api_text(theirs)}), {client} {mine} ({api_text(ours)})"
    )
    if theirs[0] != ours[0]:
        return f"{who}: they cannot work together; install Stationmaster {version} here to manage it."
    if theirs < ours:
        lacking = "; ".join(text for added, text in sorted(ADDED.items()) if theirs < added <= ours)
        missing = f" ({lacking})" if lacking else ""
        return f"{who}: everything works but what the appliance does not have yet{missing}; update it to get that."
    if theirs > ours:
        return (
            f"{who}: everything {client} shows works; what the appliance added since needs a newer Stationmaster here."
        )
    return f"{who}: the same admin API, so everything works."
