"""What an admin may call a station and tag it with: one rule for every place a name or tag comes in."""

from __future__ import annotations

import re
from typing import Any

from services.core.errors import InvalidInput

_NAME = re.compile(r"[\w][\w .\-]{0,47}")
_TAG = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,31}")


def parse_name(value: object) -> str:
    """Validate a station name: 1-48 letters, digits, spaces, '.', '-' or '_', starting with a letter or digit."""
    if not isinstance(value, str) or not _NAME.fullmatch(value.strip()):
        raise InvalidInput("a name is 1-48 letters, digits, spaces, '.', '-' or '_'")
    return value.strip()


def parse_tags(value: object) -> list[str]:
    """Validate a list of tags (lower-case words)."""
    items: Any = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(t, str) for t in items):
        raise InvalidInput("tags must be a list of strings")
    tags = [t.strip().lower() for t in items]
    for tag in tags:
        if not _TAG.fullmatch(tag):
            raise InvalidInput(f"{tag[:40]!r} is not a tag: 1-32 of a-z, 0-9, '_', '.', '-'")
    return tags
