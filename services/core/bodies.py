"""What a JSON body must be before any field of it is read: one rule for the station API and the admin API."""

from __future__ import annotations

from typing import Any

from services.core.errors import InvalidInput


def json_object(value: object, where: str = "the body") -> dict[str, Any]:
    """`value` if it is a JSON object, else InvalidInput naming `where` it came from."""
    if not isinstance(value, dict):
        raise InvalidInput(f"{where} must be a JSON object")
    return value
