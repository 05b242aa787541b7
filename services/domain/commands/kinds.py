"""The commands a station can be sent: four the appliance knows, and any word custom firmware answers to."""

from __future__ import annotations

import json
import re
from typing import Any

from services.core.errors import InvalidInput

# Built-in kinds, what they ask the firmware to do, and the arguments each takes.
BUILTIN_KINDS: dict[str, str] = {
    "reboot": "restart now (ESP.restart()); the appliance sees it come back",
    "update_now": "poll /ota at once instead of waiting for the next round",
    "refresh_config": "fetch /api/v1/config now, whatever its ETag",
    "identify": "blink the LED (or beep) so someone on site can find it; args: seconds",
}
# Kinds that restart the station (or may): a critical station gets them only when the admin insists.
RESTARTING_KINDS = frozenset(("reboot", "update_now"))
CRITICAL_TAG = "critical"

MAX_ARGS = 16
MAX_ARGS_BYTES = 1024
_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_IDENTIFY_SECONDS = (1, 600)


def parse_kind(value: object) -> str:
    """A command kind: a built-in, or a custom word (1-32 of a-z, 0-9, '_'; '-' reads as '_')."""
    if not isinstance(value, str):
        raise InvalidInput("'kind' must be a string such as reboot, update_now, refresh_config or identify")
    kind = value.strip().lower().replace("-", "_")
    if not _NAME.fullmatch(kind):
        raise InvalidInput(f"{value[:40]!r} is not a command kind: 1-32 of a-z, 0-9 and '_', starting with a letter")
    return kind


def parse_args(kind: str, value: object) -> dict[str, Any]:
    """A command's arguments: names to strings, numbers or booleans, at most 16 and 1 KiB of JSON."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise InvalidInput("'args' must be a JSON object of names to values")
    if len(value) > MAX_ARGS:
        raise InvalidInput(f"at most {MAX_ARGS} arguments, got {len(value)}")
    for name, item in value.items():
        if not _NAME.fullmatch(name):
            raise InvalidInput(f"argument name {name[:40]!r}: 1-32 of a-z, 0-9 and '_', starting with a letter")
        if item is not None and not isinstance(item, str | int | float | bool):
            raise InvalidInput(f"argument {name!r} must be a string, a number or true/false")
    if len(json.dumps(value)) > MAX_ARGS_BYTES:
        raise InvalidInput(f"the arguments must stay under {MAX_ARGS_BYTES} bytes of JSON")
    if kind == "identify":
        return _identify_args(value)
    if kind in BUILTIN_KINDS and value:
        raise InvalidInput(f"{kind} takes no arguments, got {', '.join(sorted(value))}")
    return dict(value)


def _identify_args(value: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(value) - {"seconds"})
    if unknown:
        raise InvalidInput(f"identify takes only 'seconds', got {', '.join(unknown)}")
    if "seconds" not in value:
        return {}
    seconds = value["seconds"]
    if isinstance(seconds, str) and seconds.isdigit():
        seconds = int(seconds)  # from the command line every value is text
    low, high = _IDENTIFY_SECONDS
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not low <= seconds <= high:
        raise InvalidInput(f"identify 'seconds' must be a whole number from {low} to {high}")
    return {"seconds": seconds}
