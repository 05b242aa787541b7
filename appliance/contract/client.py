"""The admin API client: what the CLI and the TUI use to reach the service over its unix socket."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp

JSON = dict[str, Any]
_BASE = "http://stationmaster"


class AdminError(Exception):
    """The service refused a request; `code` is stable, `message` is for people."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class ServiceUnavailable(AdminError):
    """No service answers on the socket."""

    def __init__(self, socket_path: Path) -> None:
        super().__init__(
            "unavailable",
            f"no Stationmaster service is listening on {socket_path}; start one with `stationmaster serve`"
            " (or `systemctl start stationmaster`), or point to it with --admin-socket",
            0,
        )


class AdminClient:
    """An async client of admin API v1 (docs/admin-api.md); use as `async with AdminClient(path) as c`."""

    def __init__(self, socket_path: Path) -> None:
        self.socket_path = Path(socket_path)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AdminClient:
        connector = aiohttp.UnixConnector(path=str(self.socket_path))
        self._session = aiohttp.ClientSession(_BASE, connector=connector)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def status(self) -> JSON:
        """The service's version, uptime and station counts."""
        return await self._call("GET", "/v1/status")

    async def lan(self) -> list[JSON]:
        """What mDNS shows on the site's LAN."""
        return list((await self._call("GET", "/v1/lan"))["services"])

    async def stations(self) -> list[JSON]:
        """Every station."""
        return list((await self._call("GET", "/v1/stations"))["stations"])

    async def station(self, mac: str) -> JSON:
        """One station."""
        return await self._call("GET", f"/v1/stations/{mac}")

    async def checkins(self, mac: str, limit: int = 500) -> list[JSON]:
        """A station's check-in history, newest first."""
        return list((await self._call("GET", f"/v1/stations/{mac}/checkins", params={"limit": limit}))["checkins"])

    async def rename(self, mac: str, name: str) -> JSON:
        """Rename a station."""
        return await self._call("POST", f"/v1/stations/{mac}/rename", json={"name": name})

    async def tag(self, mac: str, add: list[str] | None = None, remove: list[str] | None = None) -> JSON:
        """Add and remove tags."""
        return await self._call("POST", f"/v1/stations/{mac}/tags", json={"add": add or [], "remove": remove or []})

    async def accept(self, mac: str) -> JSON:
        """Accept a station."""
        return await self._call("POST", f"/v1/stations/{mac}/accept")

    async def reject(self, mac: str) -> JSON:
        """Reject a station."""
        return await self._call("POST", f"/v1/stations/{mac}/reject")

    async def retire(self, mac: str) -> JSON:
        """Retire a station."""
        return await self._call("POST", f"/v1/stations/{mac}/retire")

    async def set_settings(self, mac: str, settings: JSON) -> JSON:
        """Replace a station's settings object."""
        return await self._call("PUT", f"/v1/stations/{mac}/settings", json=settings)

    async def images(self) -> list[JSON]:
        """Every firmware image."""
        return list((await self._call("GET", "/v1/firmware"))["images"])

    async def image(self, prefix: str) -> JSON:
        """One image by SHA-256 prefix."""
        return await self._call("GET", f"/v1/firmware/{prefix}")

    async def import_image(
        self, data: bytes, filename: str, *, project: str | None = None, version: str | None = None
    ) -> JSON:
        """Upload an image file's bytes (project and version name an image without app description)."""
        headers = {"X-Filename": filename, "Content-Type": "application/octet-stream"}
        if project:
            headers["X-Firmware-Project"] = project
        if version:
            headers["X-Firmware-Version"] = version
        return await self._call("POST", "/v1/firmware", data=data, headers=headers)

    async def delete_image(self, prefix: str) -> None:
        """Delete an unused image."""
        await self._call("DELETE", f"/v1/firmware/{prefix}")

    async def assignments(self) -> list[JSON]:
        """Every assignment."""
        return list((await self._call("GET", "/v1/assignments"))["assignments"])

    async def assign(self, image: str, *, station: str | None = None, tag: str | None = None) -> JSON:
        """Assign an image to a station or a tag."""
        body: JSON = {"image": image}
        if station is not None:
            body["station"] = station
        if tag is not None:
            body["tag"] = tag
        return await self._call("POST", "/v1/assignments", json=body)

    async def unassign(self, assignment_id: int) -> None:
        """Remove an assignment."""
        await self._call("DELETE", f"/v1/assignments/{assignment_id}")

    async def events(
        self, *, mac: str | None = None, kind: str | None = None, limit: int = 100, before: int | None = None
    ) -> list[JSON]:
        """Stored events, newest first."""
        params: dict[str, str | int] = {"limit": limit}
        for key, value in (("mac", mac), ("kind", kind), ("before", before)):
            if value is not None:
                params[key] = value
        return list((await self._call("GET", "/v1/events", params=params))["events"])

    async def stream_events(self, on_connect: Callable[[], None] | None = None) -> AsyncIterator[JSON]:
        """Yield every event and live check-in as it happens; `on_connect` runs once the stream is open."""
        try:
            async with self._open().get("/v1/events/stream", timeout=aiohttp.ClientTimeout(total=None)) as answer:
                await _raise_for_error(answer)
                if on_connect is not None:
                    on_connect()
                data: list[str] = []
                async for raw in answer.content:
                    line = raw.decode("utf-8").rstrip("\r\n")
                    if line.startswith("data:"):
                        data.append(line[5:].lstrip())
                    elif not line and data:
                        yield json.loads("\n".join(data))
                        data = []
        except (aiohttp.ClientConnectorError, FileNotFoundError):
            raise ServiceUnavailable(self.socket_path) from None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("use AdminClient as `async with AdminClient(path) as client`")
        return self._session

    async def _call(self, method: str, path: str, **kwargs: Any) -> JSON:
        try:
            async with self._open().request(method, path, **kwargs) as answer:
                await _raise_for_error(answer)
                if answer.status == 204:
                    return {}
                body = await answer.json()
                if not isinstance(body, dict):
                    raise AdminError("http_error", "the service answered with something other than an object", 0)
                return body
        except (aiohttp.ClientConnectorError, FileNotFoundError):
            raise ServiceUnavailable(self.socket_path) from None


async def _raise_for_error(answer: aiohttp.ClientResponse) -> None:
    if answer.status < 400:
        return
    try:
        error = (await answer.json())["error"]
        raise AdminError(str(error["code"]), str(error["message"]), answer.status)
    except (aiohttp.ContentTypeError, json.JSONDecodeError, KeyError, TypeError):
        raise AdminError("http_error", f"the service answered {answer.status} {answer.reason}", answer.status) from None
