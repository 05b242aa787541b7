"""Sending a stored image: sendfile at the kernel's pace, Range and If-Range, and an honest transfer log.

The bytes go from the file to the socket with sendfile (as nginx sends them); what the station received is
what its TCP stack acknowledged (services.adapters.station_api.delivery), so the transfer log and the rollouts'
evidence say what the station has, not what the kernel was handed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
from pathlib import Path
from typing import BinaryIO

from aiohttp import web

from services.adapters.station_api.delivery import TcpProgress
from services.adapters.station_api.downloadlog import DownloadEnd
from services.adapters.station_api.keys import DOWNLOAD_LOG, JOURNAL, SEND_TIMEOUT
from services.core.models import FirmwareImage

log = logging.getLogger(__name__)

# Enough to keep a station's Wi-Fi link busy (an ESP's window is a few KiB) at any distance on a LAN.
SEND_BUFFER = 128 * 1024
# The end of an image that waits for its download to be on record (one flash sector).
HELD_BACK = 4096
# ASCII digits, at most 15 (a petabyte): \d would take any script's digits, and int() chokes past 4,300.
_RANGE = re.compile(r"bytes=([0-9]{0,15})-([0-9]{0,15})")


async def send_image(request: web.Request, mac: str | None, image: FirmwareImage, path: Path) -> web.StreamResponse:
    """Answer with the image (or the part a Range asks for); a download to a station (`mac`) is logged."""
    size = image.size
    etag = f'"{image.sha256[:32]}"'
    first, last = _byte_range(request, size, etag)
    wanted = last - first + 1
    response = web.StreamResponse(status=200 if (first, last) == (0, size - 1) else 206)
    response.content_length = wanted
    response.content_type = "application/octet-stream"
    response.headers["x-MD5"] = image.md5
    response.headers["ETag"] = etag
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["Content-Disposition"] = f'attachment; filename="{image.filename}"'
    # Informative: lets a client that cannot parse an app description (ESP8266) know what it got.
    if image.version:
        response.headers["x-Firmware-Version"] = image.version
    if response.status == 206:
        response.headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    if request.method == "HEAD":
        # esp_https_ota's partial download asks HEAD first, for the size only.
        await response.prepare(request)
        return response
    # Downloads by digest name no station: they are served, not logged against one. The start is recorded
    # while the image begins to go out (a commit takes milliseconds, an ESP's download seconds); its last
    # bytes wait for the record, so no station ever holds a whole image whose download is not on record.
    recording = None
    if mac is not None:
        recording = asyncio.ensure_future(request.app[DOWNLOAD_LOG].started(mac, image, first, last))
    if recording is not None and request.app[JOURNAL].registry.db.full_lately():
        # The disk was full a moment ago: learn whether the record can be written before sending anything,
        # so that each poll meanwhile is refused (507) instead of pulling an image that will be cut short.
        await recording
    delivered = 0
    _bound_send_buffer(request.transport)
    progress = TcpProgress.watch(request.transport)
    try:
        with path.open("rb") as file:
            delivered = await _sendfile(request, response, file, first, wanted, progress, mac, recording)
    finally:
        if progress is not None:
            progress.close()
        transfer_id = await _recorded(recording)
        if recording is not None and transfer_id is None:
            log.warning("%s: the download's start could not be recorded; it was not sent to its end", mac)
        if transfer_id is not None and mac is not None:
            await request.app[DOWNLOAD_LOG].ended(DownloadEnd(transfer_id, mac, image, first, delivered, wanted))
    return response


async def _sendfile(
    request: web.Request,
    response: web.StreamResponse,
    file: BinaryIO,
    first: int,
    wanted: int,
    progress: TcpProgress | None,
    mac: str | None,
    recording: asyncio.Future[int] | None,
) -> int:
    """Send `wanted` bytes of `file` from `first`, the last `HELD_BACK` once `recording` is done; return how
    many the station acknowledged."""
    stall_s = request.app[SEND_TIMEOUT]
    start: int | None = None  # where the body begins in the connection's byte count, once it is known
    handed = 0
    try:
        await response.prepare(request)
        transport = request.transport
        if transport is None:
            raise ConnectionResetError("the station hung up")
        if progress is not None:
            start = progress.handed(transport)
        head = wanted - min(wanted, HELD_BACK) if recording is not None else wanted
        if head:
            handed = await _send_part(transport, file, first, head, progress, stall_s)
        if head < wanted:
            if await _recorded(recording) is None:
                transport.abort()  # not on record: the station must not get the whole image
                return _acknowledged(progress, start, wanted, handed)
            handed += await _send_part(transport, file, first + head, wanted - head, progress, stall_s)
        await response.write_eof()
        if progress is None or start is None:
            return handed
        return min(await progress.settled(start + wanted, stall_s) - start, wanted)
    except ConnectionError:
        delivered = _acknowledged(progress, start, wanted, handed)
        log.info("%s went away after %d of %d bytes", mac, delivered, wanted)
        return delivered
    except TimeoutError:
        delivered = _acknowledged(progress, start, wanted, handed)
        log.info("%s stopped reading after %d of %d bytes; hanging up", mac, delivered, wanted)
        if request.transport is not None:
            request.transport.abort()
        return delivered


async def _send_part(
    transport: asyncio.WriteTransport,
    file: BinaryIO,
    offset: int,
    count: int,
    progress: TcpProgress | None,
    stall_s: float,
) -> int:
    """sendfile `count` bytes from `offset`, watched for a station that stops reading; return the bytes handed."""
    sending = asyncio.ensure_future(asyncio.get_running_loop().sendfile(transport, file, offset, count))
    return await _watched(sending, progress, stall_s, count)


async def _recorded(recording: asyncio.Future[int] | None) -> int | None:
    """The download's transfer id once its start is committed; None without one (a full disk, say)."""
    if recording is None:
        return None
    try:
        return await asyncio.shield(recording)
    except Exception:
        return None


def _bound_send_buffer(transport: asyncio.BaseTransport | None) -> None:
    """Cap the kernel's send buffer for a download: Linux grows it to 4 MiB a connection on a fast link,
    and 200 stations pulling at once would then hold 800 MiB of a Pi Zero's 512 MiB in the kernel."""
    sock = None if transport is None else transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)


async def _watched(sending: asyncio.Future[int], progress: TcpProgress | None, stall_s: float, wanted: int) -> int:
    """Wait for sendfile; give up (TimeoutError) once the station acknowledges nothing more for `stall_s`."""
    if progress is None:
        # Where the kernel does not count acknowledgements, allow the slowest station's pace (1 KiB/s).
        return await asyncio.wait_for(sending, stall_s + wanted / 1024)
    acked = progress.acked()
    while True:
        done, _ = await asyncio.wait({sending}, timeout=stall_s)
        if done:
            return sending.result()
        now = progress.acked()
        if now == acked:
            sending.cancel()
            await asyncio.gather(sending, return_exceptions=True)
            raise TimeoutError
        acked = now


def _acknowledged(progress: TcpProgress | None, start: int | None, wanted: int, handed: int) -> int:
    """What the station has of a download that broke off."""
    if progress is None:
        return handed
    if start is None:
        return 0
    return max(0, min((progress.acked() or 0) - start, wanted))


def _byte_range(request: web.Request, size: int, etag: str) -> tuple[int, int]:
    """Return the inclusive byte range to send; the whole image unless a single valid Range asks less."""
    header = request.headers.get("Range")
    if header is None or size == 0:
        return 0, size - 1
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range.strip() != etag:
        return 0, size - 1  # the image changed since the partial download began: start again
    match = _RANGE.fullmatch(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        # Multiple or malformed ranges: RFC 9110 lets a server ignore Range and send it all.
        return 0, size - 1
    start_text, end_text = match.groups()
    if start_text == "":
        first, last = max(size - int(end_text), 0), size - 1
    else:
        first = int(start_text)
        last = min(int(end_text), size - 1) if end_text else size - 1
    if first >= size or first > last:
        raise web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    return first, last
