"""LAN push as an admin action: pick the image, push it, narrate progress, record the outcome."""

from __future__ import annotations

import ipaddress
from typing import Any

from appliance.contract.events import EventKind
from services.adapters.lan.espota import ESP32_PORT, ESP8266_PORT, PushFailed, PushResult, push_image
from services.core.errors import InvalidInput
from services.domain.firmware.library import FirmwareLibrary
from services.store.journal import EventLog, Journal

_PROGRESS_STEP = 10  # percent between live progress messages: enough for a progress bar over SSH


class LanPusher:
    """Push stored images to ArduinoOTA stations on the LAN."""

    def __init__(self, journal: Journal, library: FirmwareLibrary) -> None:
        self._journal = journal
        self._library = library

    async def push(self, body: dict[str, Any]) -> PushResult:
        """Push `body["image"]` to `body["address"]`; the password, if any, is used and forgotten."""
        address = _address(body.get("address"))
        image = await self._journal.registry.images.by_prefix(_text(body.get("image"), "image"))
        port = body.get("port") or (ESP8266_PORT if image.chip == "esp8266" else ESP32_PORT)
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise InvalidInput("'port' must be a port number")
        password = body.get("password")
        if password is not None and not isinstance(password, str):
            raise InvalidInput("'password' must be a string")
        data = await self._library.store_bytes(image.sha256)
        what = " ".join(v for v in (image.project, image.version) if v) or image.sha256[:12]
        reported = [-1]

        def progress(done: int, total: int) -> None:
            percent = 100 * done // max(total, 1)
            if percent >= reported[0] + _PROGRESS_STEP or done == total:
                reported[0] = percent
                self._journal.publish_live(
                    "lan_push_progress",
                    {
                        "address": address,
                        "sha256": image.sha256,
                        "done": done,
                        "total": total,
                        "message": f"pushing {what} to {address}: {percent} %",
                    },
                )

        try:
            result = await push_image(
                address, port, data, password=password or None, progress=progress, filename=image.filename
            )
        except PushFailed as exc:
            await self._record("lan_push_failed", f"pushing {what} to {address} failed: {exc.message}", image.sha256)
            raise
        checked = f"; password checked by {result.auth_scheme}" if result.auth_scheme else ""
        await self._record(
            "lan_push_finished", f"pushed {what} to {address} ({len(data):,} bytes{checked})", image.sha256
        )
        return result

    async def _record(self, kind: EventKind, message: str, sha256: str) -> None:
        async def op(entry: EventLog) -> None:
            await entry(kind, None, message, sha256=sha256)

        await self._journal.write(op)


def _address(value: object) -> str:
    text = _text(value, "address")
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise InvalidInput(f"'address' must be an IPv4 address, got {text[:40]!r}") from None


def _text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"'{name}' is required")
    return value.strip()
