"""The admin API client: what the CLI and the TUI use to reach the service over its unix socket."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import tarfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import TracebackType
from typing import Any, cast
from urllib.parse import quote

import aiohttp

from appliance import __version__
from appliance.contract.errors import AdminError, ServiceUnavailable, refusal
from appliance.contract.shapes import (
    Alert,
    Assignment,
    Checkin,
    Command,
    Event,
    Image,
    Restart,
    Rollout,
    RolloutPlan,
    RolloutSummary,
    Rollup,
    Station,
    Status,
    WifiNetwork,
    WifiRemoved,
)
from appliance.contract.stream import CompactStream, plain_message, server_sent_events

__all__ = ["JSON", "AdminClient", "AdminError", "ServiceUnavailable"]

JSON = dict[str, Any]
# Backups and restores move the whole firmware library: no total limit, only a stall limit.
_LONG = aiohttp.ClientTimeout(total=None, sock_read=600)
# The live stream: the service says something at least every 15 s; silence for longer is a dead link.
_STREAMING = aiohttp.ClientTimeout(total=None, sock_read=45)
# The socket is the address; the host name only fills the Host header.
_BASE = "http://stationmaster"


class AdminClient:
    """An async client of admin API v1 (docs/admin-api.md); use as `async with AdminClient(path) as c`."""

    def __init__(self, socket_path: Path, *, afar: str | None = None) -> None:
        self.socket_path = Path(socket_path)
        # `afar`: the socket is forwarded over SSH from the appliance at this destination. Answers are then
        # compressed (bytes cost more than CPU over the link), and a lost service is told as a lost link.
        self.afar = afar
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AdminClient:
        connector = aiohttp.UnixConnector(path=str(self.socket_path))
        headers = {} if self.afar else {"Accept-Encoding": "identity"}
        self._session = aiohttp.ClientSession(_BASE, connector=connector, headers=headers)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def status(self) -> Status:
        """The service's version, uptime and station counts."""
        return cast(Status, await self._call("GET", "/v1/status"))

    async def lan(self) -> list[JSON]:
        """What mDNS shows on the site's LAN."""
        return list((await self._call("GET", "/v1/lan"))["services"])

    async def lan_push(self, address: str, image: str, *, port: int | None = None, password: str | None = None) -> JSON:
        """Push an image to an ArduinoOTA station on the LAN; returns once the station has answered."""
        body: JSON = {"address": address, "image": image}
        if port is not None:
            body["port"] = port
        if password:
            body["password"] = password
        return await self._call("POST", "/v1/lan/push", json=body, timeout=aiohttp.ClientTimeout(total=600))

    # On-site USB onboarding: the serial ports plugged into the appliance.

    async def usb_ports(self) -> list[JSON]:
        """Every USB serial port plugged in, with what answered on it and any job running."""
        return list((await self._call("GET", "/v1/usb/ports"))["ports"])

    async def usb_port(self, port: str) -> JSON:
        """One port, by name (ttyUSB0) or path."""
        return await self._call("GET", f"/v1/usb/ports/{quote(port, safe='')}")

    async def usb_identify(self, port: str) -> JSON:
        """Ask again what is on a port; the outcome follows on the event stream."""
        return await self._call("POST", "/v1/usb/identify", json={"port": port})

    async def usb_flash(self, port: str, name: str, firmware: str, *, replace: bool = False) -> JSON:
        """Flash `firmware` (a SHA-256 prefix) and a new station `name`'s config onto the chip on `port`."""
        body = {"port": port, "name": name, "firmware": firmware, "replace": replace}
        return await self._call("POST", "/v1/usb/flash", json=body)

    async def usb_wifi(self, port: str, ssid: str | None = None) -> JSON:
        """Hand a site network (the first by priority, or `ssid`) to the Improv station on `port`."""
        body: JSON = {"port": port}
        if ssid is not None:
            body["ssid"] = ssid
        return await self._call("POST", "/v1/usb/wifi", json=body)

    async def stations(self) -> list[Station]:
        """Every station."""
        return cast(list[Station], list((await self._call("GET", "/v1/stations"))["stations"]))

    async def station(self, mac: str) -> Station:
        """One station."""
        return cast(Station, await self._call("GET", f"/v1/stations/{_segment(mac)}"))

    async def checkins(self, mac: str, limit: int = 500) -> list[Checkin]:
        """A station's check-in history, newest first."""
        answer = await self._call("GET", f"/v1/stations/{_segment(mac)}/checkins", params={"limit": limit})
        return cast(list[Checkin], list(answer["checkins"]))

    async def rename(self, mac: str, name: str) -> Station:
        """Rename a station; returns it."""
        return cast(Station, await self._call("POST", f"/v1/stations/{_segment(mac)}/rename", json={"name": name}))

    async def set_chip(self, mac: str, chip: str) -> Station:
        """Say which chip a station is; return the station."""
        return cast(Station, await self._call("POST", f"/v1/stations/{_segment(mac)}/chip", json={"chip": chip}))

    async def tag(self, mac: str, add: list[str] | None = None, remove: list[str] | None = None) -> Station:
        """Add and remove tags; returns the station."""
        body = {"add": add or [], "remove": remove or []}
        return cast(Station, await self._call("POST", f"/v1/stations/{_segment(mac)}/tags", json=body))

    async def accept(self, mac: str) -> Station:
        """Accept a pending station (it gets its token at its next check-in); returns it."""
        return cast(Station, await self._call("POST", f"/v1/stations/{_segment(mac)}/accept"))

    async def reject(self, mac: str) -> Station:
        """Reject a station; returns it."""
        return cast(Station, await self._call("POST", f"/v1/stations/{_segment(mac)}/reject"))

    async def delete_station(self, mac: str) -> Station:
        """Delete a station with everything that hangs off it; returns it as it was."""
        return cast(Station, await self._call("DELETE", f"/v1/stations/{_segment(mac)}"))

    async def retire(self, mac: str) -> Station:
        """Retire a station; returns it."""
        return cast(Station, await self._call("POST", f"/v1/stations/{_segment(mac)}/retire"))

    async def set_settings(self, mac: str, settings: JSON) -> Station:
        """Replace a station's settings object; returns the station."""
        return cast(Station, await self._call("PUT", f"/v1/stations/{_segment(mac)}/settings", json=settings))

    async def images(self) -> list[Image]:
        """Every firmware image."""
        return cast(list[Image], list((await self._call("GET", "/v1/firmware"))["images"]))

    async def image(self, prefix: str) -> Image:
        """One image by a unique SHA-256 prefix."""
        return cast(Image, await self._call("GET", f"/v1/firmware/{_segment(prefix)}"))

    async def import_image(
        self, data: bytes, filename: str, *, project: str | None = None, version: str | None = None
    ) -> Image:
        """Upload an image file's bytes (project and version name an image without app description)."""
        headers = {"X-Filename": filename, "Content-Type": "application/octet-stream"}
        if project:
            headers["X-Firmware-Project"] = project
        if version:
            headers["X-Firmware-Version"] = version
        return cast(Image, await self._call("POST", "/v1/firmware", data=data, headers=headers))

    async def delete_image(self, prefix: str) -> None:
        """Delete an image that nothing is assigned (`conflict` otherwise)."""
        await self._call("DELETE", f"/v1/firmware/{_segment(prefix)}")

    async def assignments(self) -> list[Assignment]:
        """Every assignment."""
        return cast(list[Assignment], list((await self._call("GET", "/v1/assignments"))["assignments"]))

    async def assign(self, image: str, *, station: str | None = None, tag: str | None = None) -> Assignment:
        """Assign an image (a unique SHA-256 prefix) to a station or a tag; returns the assignment."""
        body: JSON = {"image": image}
        if station is not None:
            body["station"] = station
        if tag is not None:
            body["tag"] = tag
        return cast(Assignment, await self._call("POST", "/v1/assignments", json=body))

    async def unassign(self, assignment_id: int) -> None:
        """Remove an assignment."""
        await self._call("DELETE", f"/v1/assignments/{int(assignment_id)}")

    async def events(
        self, *, mac: str | None = None, kind: str | None = None, limit: int = 100, before: int | None = None
    ) -> list[Event]:
        """Stored events, newest first; `before` is an event id to page back from."""
        params: dict[str, str | int] = {"limit": limit}
        for key, value in (("mac", mac), ("kind", kind), ("before", before)):
            if value is not None:
                params[key] = value
        return cast(list[Event], list((await self._call("GET", "/v1/events", params=params))["events"]))

    # Onboarding: bench bundles, and the site's Wi-Fi with its rotation.

    async def make_bundle(
        self,
        name: str,
        chip: str,
        *,
        mac: str | None = None,
        firmware: str | None = None,
        address: str | None = None,
        replace: bool = False,
        layout: dict[str, int] | None = None,
    ) -> JSON:
        """Provision a station awaiting arrival; the answer carries its bundle's files (base64: keep them private)."""
        body: JSON = {"name": name, "chip": chip, "replace": replace, **(layout or {})}
        for key, value in (("mac", mac), ("firmware", firmware), ("address", address)):
            if value:
                body[key] = value
        return await self._call("POST", "/v1/onboarding/bundles", json=body)

    async def provisions(self) -> JSON:
        """Stations awaiting their arrival (`awaiting`) and the latest provisions (`recent`)."""
        return await self._call("GET", "/v1/onboarding/bundles")

    async def cancel_bundle(self, name: str) -> JSON:
        """Cancel an awaiting bundle: its token stops working; returns the provision."""
        return await self._call("DELETE", f"/v1/onboarding/bundles/{quote(name, safe='')}")

    async def wifi_networks(self) -> list[WifiNetwork]:
        """The site's networks, passphrases masked."""
        return cast(list[WifiNetwork], list((await self._call("GET", "/v1/wifi"))["networks"]))

    async def add_wifi(
        self, ssid: str, psk: str, *, priority: int = 0, hidden: bool = False, fallback: bool = False
    ) -> WifiNetwork:
        """Add a site network (every accepted station's config gains it); returns it, masked."""
        body = {"ssid": ssid, "psk": psk, "priority": priority, "hidden": hidden, "fallback": fallback}
        return cast(WifiNetwork, await self._call("POST", "/v1/wifi", json=body))

    async def remove_wifi(self, ssid: str, *, override: bool = False) -> WifiRemoved:
        """Drop a site network; refused (`conflict`, naming who is not ready) unless every station holds the rest."""
        params = {"ssid": ssid, "override": "1" if override else "0"}
        return cast(WifiRemoved, await self._call("DELETE", "/v1/wifi", params=params))

    async def reveal_wifi(self, ssid: str) -> str:
        """A network's passphrase (the service records that it was shown)."""
        return str((await self._call("POST", "/v1/wifi/reveal", json={"ssid": ssid}))["psk"])

    async def wifi_rotation(self) -> JSON:
        """Every accepted and awaited station's standing towards the site's networks."""
        return await self._call("GET", "/v1/wifi/rotation")

    async def stream_events(self, on_connect: Callable[[], None] | None = None) -> AsyncIterator[JSON]:
        """Yield every event and live check-in until the service ends the stream; `on_connect` runs once it is open."""
        try:
            async with self._open().get("/v1/events/stream", timeout=aiohttp.ClientTimeout(total=None)) as answer:
                await _raise_for_error(answer)
                if on_connect is not None:
                    on_connect()
                async for event_id, kind, data in server_sent_events(answer.content):
                    message = plain_message(event_id, kind, data)
                    if message is not None:
                        yield message
        except aiohttp.ClientError as exc:
            raise self._unavailable(exc) from None
        except FileNotFoundError as exc:
            raise self._unavailable(exc) from None

    async def follow(
        self, stream: CompactStream, on_connect: Callable[[bool], None] | None = None
    ) -> AsyncIterator[JSON]:
        """Yield what the compact stream carries, as `stream_events` would, until it ends or breaks.

        Follow the same `stream` again after a break: the service sends what was missed and `on_connect`
        hears True (resumed); False means the views must be fetched again (a first connection, an older
        service, or too much missed).
        """
        params = {"compact": "1", "batch_ms": str(stream.batch_ms)}
        try:
            async with self._open().get(
                "/v1/events/stream", params=params, headers=stream.request_headers(), timeout=_STREAMING
            ) as answer:
                await _raise_for_error(answer)
                resumed = stream.connected(answer.headers)
                if on_connect is not None:
                    on_connect(resumed)
                async for event_id, kind, data in server_sent_events(answer.content):
                    for message in stream.decode(event_id, kind, data):
                        yield message
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._unavailable(exc) from None
        except FileNotFoundError as exc:
            raise self._unavailable(exc) from None

    # Commands and station health

    async def send_command(
        self,
        mac: str,
        kind: str,
        args: JSON | None = None,
        *,
        ttl_s: float | None = None,
        force: bool = False,
    ) -> Command:
        """Queue a command for a station (delivered at its next check-in); `force` past the critical tag."""
        body: JSON = {"station": mac, "kind": kind, "args": args or {}, "force": force}
        if ttl_s is not None:
            body["ttl_s"] = ttl_s
        return cast(Command, await self._call("POST", "/v1/commands", json=body))

    async def commands(self, *, station: str | None = None, open_only: bool = False, limit: int = 200) -> list[Command]:
        """Commands newest first, of one station or all, the unfinished only if asked."""
        params: dict[str, str | int] = {"limit": limit}
        if station is not None:
            params["station"] = station
        if open_only:
            params["open"] = 1
        return cast(list[Command], list((await self._call("GET", "/v1/commands", params=params))["commands"]))

    async def command(self, command_id: int) -> Command:
        """One command."""
        return cast(Command, await self._call("GET", f"/v1/commands/{int(command_id)}"))

    async def cancel_command(self, command_id: int) -> Command:
        """Cancel a command the station has not finished; returns it."""
        return cast(Command, await self._call("POST", f"/v1/commands/{int(command_id)}/cancel"))

    async def alerts(self, *, all_kept: bool = False, station: str | None = None) -> list[Alert]:
        """Open alerts newest first (cleared ones too with `all_kept`)."""
        params: dict[str, str | int] = {}
        if all_kept:
            params["all"] = 1
        if station is not None:
            params["station"] = station
        return cast(list[Alert], list((await self._call("GET", "/v1/alerts", params=params))["alerts"]))

    async def clear_alert(self, alert_id: int) -> Alert:
        """Dismiss an open alert; returns it."""
        return cast(Alert, await self._call("POST", f"/v1/alerts/{int(alert_id)}/clear"))

    async def restarts(self, mac: str, limit: int = 100) -> list[Restart]:
        """A station's restarts with their causes, newest first."""
        answer = await self._call("GET", f"/v1/stations/{_segment(mac)}/restarts", params={"limit": limit})
        return cast(list[Restart], list(answer["restarts"]))

    async def rollups(self, mac: str, span: str = "hour", limit: int = 500) -> list[Rollup]:
        """A station's history summarised by `hour` or `day`, newest first."""
        params: dict[str, str | int] = {"span": span, "limit": limit}
        answer = await self._call("GET", f"/v1/stations/{_segment(mac)}/rollups", params=params)
        return cast(list[Rollup], list(answer["rollups"]))

    # Rollouts: docs/admin-api.md, "Rollouts".

    async def rollouts(self) -> list[RolloutSummary]:
        """Every rollout, newest first, with its counts."""
        return cast(list[RolloutSummary], list((await self._call("GET", "/v1/rollouts"))["rollouts"]))

    async def rollout(self, rollout_id: int) -> Rollout:
        """One rollout with its waves and every station's state and reason."""
        return cast(Rollout, await self._call("GET", f"/v1/rollouts/{int(rollout_id)}"))

    async def start_rollout(
        self, image: str, *, target: JSON | None = None, waves: list[int | str] | None = None, **settings: Any
    ) -> Rollout:
        """Start a rollout of an image (a unique SHA-256 prefix); settings: soak_s, timeout_s, min_rssi, ..."""
        return cast(
            Rollout, await self._call("POST", "/v1/rollouts", json=_rollout_body(image, target, waves, settings))
        )

    async def plan_rollout(
        self, image: str, *, target: JSON | None = None, waves: list[int | str] | None = None, **settings: Any
    ) -> RolloutPlan:
        """What start_rollout would do with the same arguments (stations, waves, settings), without starting."""
        return cast(
            RolloutPlan,
            await self._call("POST", "/v1/rollouts/plan", json=_rollout_body(image, target, waves, settings)),
        )

    async def rollout_action(self, rollout_id: int, action: str) -> Rollout:
        """pause, resume, cancel or rollback a rollout; returns it."""
        if action not in ("pause", "resume", "cancel", "rollback"):
            raise ValueError(f"no rollout action {action!r}")
        return cast(Rollout, await self._call("POST", f"/v1/rollouts/{int(rollout_id)}/{action}"))

    async def approve_rollout(self, rollout_id: int, stations: list[str] | None = None) -> Rollout:
        """Approve updating these critical stations of a rollout (None: every critical one); returns it."""
        body: JSON = {"all": True} if stations is None else {"stations": stations}
        return cast(Rollout, await self._call("POST", f"/v1/rollouts/{int(rollout_id)}/approve", json=body))

    # Backup and restore.

    async def backup(self, target: Path, *, include_secrets: bool = False) -> JSON:
        """Have the service write a backup and save it at `target` (whole or not at all); returns its path and size.

        A directory as `target` gets the file under the name the service gives it (the site and the time).
        """
        partial: Path | None = None
        size = 0
        try:
            async with self._open().post(
                "/v1/backup", json={"include_secrets": include_secrets}, timeout=_LONG
            ) as answer:
                await _raise_for_error(answer)
                if await asyncio.to_thread(target.is_dir):
                    target = target / _offered_name(answer)
                partial = target.with_name(f".{target.name}.partial")
                # 0600: a backup is the site's whole history (and with --include-secrets its passwords).
                fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as out:
                    async for chunk in answer.content.iter_chunked(256 * 1024):
                        size += len(chunk)
                        await asyncio.to_thread(out.write, chunk)
                    await asyncio.to_thread(os.fsync, out.fileno())
            await asyncio.to_thread(_check_archive, partial)
            os.replace(partial, target)
        except aiohttp.ClientPayloadError:
            raise AdminError("backup_cut", "the backup broke off before its end; nothing was saved", 0) from None
        except aiohttp.ClientError as exc:
            raise self._unavailable(exc) from None
        except FileNotFoundError as exc:
            raise self._unavailable(exc) from None
        finally:
            if partial is not None:
                partial.unlink(missing_ok=True)
        return {"path": str(target), "bytes": size, "include_secrets": include_secrets}

    async def restore(self, archive: Path) -> JSON:
        """Send a backup archive; the service checks it whole and makes it the site's state, or changes nothing."""
        size = (await asyncio.to_thread(archive.stat)).st_size
        with archive.open("rb") as body:
            headers = {"Content-Type": "application/gzip", "Content-Length": str(size)}
            return await self._call("POST", "/v1/restore", data=body, headers=headers, timeout=_LONG)

    # The upstream release feed.

    async def feed(self) -> JSON:
        """The feed this site follows, its uplink byte counter and its refusals."""
        return await self._call("GET", "/v1/feed")

    async def follow_feed(self, url: str, key: str, interval_s: int | None = None) -> JSON:
        """Follow the feed at `url` signed with `key` (ed25519:...)."""
        body: JSON = {"url": url, "key": key}
        if interval_s is not None:
            body["interval_s"] = interval_s
        return await self._call("PUT", "/v1/feed", json=body)

    async def unfollow_feed(self) -> None:
        """Stop following the feed."""
        await self._call("DELETE", "/v1/feed")

    async def sync_feed(self) -> JSON:
        """Sync the feed now; returns what was imported, refused or cut short."""
        return await self._call("POST", "/v1/feed/sync", timeout=_LONG)

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
                try:
                    body = await answer.json()
                except (aiohttp.ContentTypeError, json.JSONDecodeError, UnicodeDecodeError):
                    body = None
                if not isinstance(body, dict):
                    raise AdminError(
                        "bad_answer",
                        f"the service answered {method} {path} with something other than a JSON object",
                        answer.status,
                    )
                return body
        except aiohttp.ClientError as exc:
            raise self._unavailable(exc) from None
        except FileNotFoundError as exc:
            raise self._unavailable(exc) from None

    def _unavailable(self, exc: aiohttp.ClientError | OSError) -> ServiceUnavailable:
        """Say why the socket did not answer, and what to do about it."""
        if self.afar:
            # The local socket means nothing to the admin: the link or the service at the far end is down.
            return ServiceUnavailable(self.socket_path, f"no answer from the appliance at {self.afar} over SSH")
        if isinstance(exc, aiohttp.ClientConnectorError):
            if exc.os_error.errno in (errno.EACCES, errno.EPERM):
                return ServiceUnavailable(
                    self.socket_path,
                    f"permission denied on {self.socket_path}: only members of its group (stationmaster) may"
                    " use the service; `sudo usermod -aG stationmaster $USER`, then log in again",
                )
            return ServiceUnavailable(self.socket_path)
        if isinstance(exc, FileNotFoundError):
            return ServiceUnavailable(self.socket_path)
        return ServiceUnavailable(
            self.socket_path,
            f"lost the connection to the Stationmaster service on {self.socket_path}"
            f" ({str(exc) or type(exc).__name__}); it may be restarting: see `systemctl status stationmaster`",
        )


async def _raise_for_error(answer: aiohttp.ClientResponse) -> None:
    if answer.status < 400:
        return
    try:
        error = (await answer.json())["error"]
        code, message = str(error["code"]), str(error["message"])
    except (aiohttp.ContentTypeError, json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
        # Not the service's error shape: maybe something else listens on the socket.
        raise AdminError("http_error", f"the service answered {answer.status} {answer.reason}", answer.status) from None
    if (answer.status, message) in _NO_ROUTE:
        raise AdminError(
            "not_on_appliance",
            f"the appliance does not know {answer.method} {answer.url.path}: it may run an older Stationmaster than"
            f" this one ({__version__}); update it to use this",
            answer.status,
        )
    raise refusal(code, message, answer.status)


# What aiohttp answers for a path or a method no route has (the service's own 404s name what is missing).
_NO_ROUTE = {(404, "Not Found"), (405, "Method Not Allowed")}


def _offered_name(answer: aiohttp.ClientResponse) -> str:
    """The file name the service gave its archive (its Content-Disposition), kept to a plain name in the folder."""
    offered = answer.content_disposition.filename if answer.content_disposition else None
    name = Path(offered or "").name
    return name if name and not name.startswith(".") else "stationmaster-backup.tar.gz"


def _check_archive(path: Path) -> None:
    """Read the downloaded archive to its end: a gzip stream that stops early fails here."""
    try:
        with tarfile.open(path, mode="r|gz") as tar:
            for _ in tar:
                pass
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise AdminError("backup_cut", f"the backup is incomplete ({exc}); nothing was saved", 0) from None


def _segment(value: str) -> str:
    """Quote a path segment: a MAC or prefix typed by a person must not turn into a query or a sub-path."""
    return quote(value, safe=":-")


def _rollout_body(image: str, target: JSON | None, waves: list[int | str] | None, settings: dict[str, Any]) -> JSON:
    """A rollout request: the image, its target (every station by default), its waves and the settings given."""
    body: JSON = {"image": image, "target": target or {"all": True}}
    if waves is not None:
        body["waves"] = waves
    body.update({key: value for key, value in settings.items() if value is not None})
    return body
