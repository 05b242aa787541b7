"""Turn JSON from stations into validated values, with a clear message for whatever is wrong."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from appliance.contract.events import StationEventKind
from services.core.bodies import json_object
from services.core.chips import parse_chip
from services.core.errors import InvalidInput
from services.core.macaddr import parse_mac
from services.core.models import EVENT_KINDS_FROM_STATIONS, CheckIn

MAX_EVENTS_PER_REQUEST = 32


def parse_checkin(body: object) -> CheckIn:
    """Validate a check-in (or enrolment) body; unknown fields are ignored, as the contract promises."""
    obj = json_object(body, "body")
    return CheckIn(
        mac=parse_mac(_required(obj, "mac")),
        chip=None if obj.get("chip") is None else parse_chip(obj["chip"]),
        project=_text(obj, "project", 64),
        version=_text(obj, "version", 64),
        rssi=_integer(obj, "rssi", -127, 0),
        uptime_s=_integer(obj, "uptime_s", 0, 2**53),
        free_heap=_integer(obj, "free_heap", 0, 2**32),
        restart_cause=_text(obj, "restart_cause", 64),
        ip=_ip(obj),
        bssid=None if obj.get("bssid") is None else parse_mac(obj["bssid"]),
        free_sketch_space=_integer(obj, "free_sketch_space", 0, 2**32),
        reset_reason=_integer(obj, "reset_reason", 0, 255),
        config_etag=_text(obj, "config_etag", 80),
    )


def parse_station_events(body: object) -> tuple[str | None, list[tuple[StationEventKind, str]]]:
    """Validate an events body; return (MAC if given, [(kind, message)])."""
    obj = json_object(body, "body")
    mac = None if obj.get("mac") is None else parse_mac(obj["mac"])
    events = obj.get("events")
    if not isinstance(events, list) or not events:
        raise InvalidInput("'events' must be a non-empty list")
    if len(events) > MAX_EVENTS_PER_REQUEST:
        raise InvalidInput(f"at most {MAX_EVENTS_PER_REQUEST} events a request, got {len(events)}")
    parsed = []
    for index, item in enumerate(events):
        event = json_object(item, f"events[{index}]")
        sent = event.get("kind")
        kind = _STATION_KINDS.get(sent) if isinstance(sent, str) else None
        if kind is None:
            raise InvalidInput(f"events[{index}].kind must be one of {', '.join(EVENT_KINDS_FROM_STATIONS)}")
        parsed.append((kind, _text(event, "message", 256, where=f"events[{index}].") or ""))
    return mac, parsed


def _required(obj: Mapping[str, Any], key: str) -> Any:
    if obj.get(key) is None:
        raise InvalidInput(f"field {key!r} is required")
    return obj[key]


def _text(obj: Mapping[str, Any], key: str, max_len: int, where: str = "") -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"field '{where}{key}' must be a string")
    if len(value) > max_len:
        raise InvalidInput(f"field '{where}{key}' is longer than {max_len} characters")
    if any(ord(ch) < 32 for ch in value):
        raise InvalidInput(f"field '{where}{key}' contains control characters")
    return value


def _integer(obj: Mapping[str, Any], key: str, low: int, high: int) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    # JSON true/false are ints to Python; a station sending them has a bug worth telling it about.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"field {key!r} must be an integer")
    if not low <= value <= high:
        raise InvalidInput(f"field {key!r} must be between {low} and {high}, got {value}")
    return value


def _ip(obj: Mapping[str, Any]) -> str | None:
    value = _text(obj, "ip", 45)
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise InvalidInput(f"field 'ip' is not an IP address: {value!r}") from None


_STATION_KINDS: dict[str, StationEventKind] = {kind: kind for kind in EVENT_KINDS_FROM_STATIONS}
