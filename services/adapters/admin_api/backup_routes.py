"""Admin API: `POST /v1/backup` streams an archive, `POST /v1/restore` takes one and applies it live."""

from __future__ import annotations

import logging
import shutil
import socket
from pathlib import Path
from typing import Any

from aiohttp import web

from services.adapters.http_errors import json_body
from services.core.errors import InvalidInput, StorageFull
from services.domain.backup import RestoreSummary, SiteBackup
from services.domain.backup.archive import archive_name
from services.domain.backup.site import RESERVE_BYTES

log = logging.getLogger(__name__)

BACKUP = web.AppKey("backup", SiteBackup)

routes = web.RouteTableDef()


@routes.post("/v1/backup")
async def backup(request: web.Request) -> web.StreamResponse:
    """Stream a backup archive; `{"include_secrets": true}` puts the Wi-Fi passwords (and keys) in it."""
    body: Any = await json_body(request) if request.can_read_body else {}
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    include = body.get("include_secrets", False)
    if not isinstance(include, bool):
        raise InvalidInput("include_secrets must be true or false")
    site = request.app[BACKUP]
    chunks = site.stream(include_secrets=include)
    # The snapshot is taken before the first byte: a failure there is still a clean JSON error.
    first = await anext(chunks)
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/gzip",
            "Content-Disposition": f'attachment; filename="{archive_name(socket.gethostname())}"',
        }
    )
    await response.prepare(request)
    try:
        await response.write(first)
        async for chunk in chunks:
            await response.write(chunk)
    except (ConnectionResetError, ConnectionError):
        await chunks.aclose()
        raise
    except Exception:
        # Headers are gone: the only honest signal left is to break the stream, which the client reports.
        log.exception("the backup broke off")
        await chunks.aclose()
        if request.transport is not None:
            request.transport.abort()
        return response
    await response.write_eof()
    return response


@routes.post("/v1/restore")
async def restore(request: web.Request) -> web.Response:
    """Take an archive as the body, check it whole, then make it the site's state (nothing changes on refusal)."""
    site = request.app[BACKUP]
    with site.scratch() as scratch:
        upload = Path(scratch) / "upload.tar.gz"
        await _receive(request, upload, site.limits.max_upload_bytes)
        summary = await site.restore(upload)
    return web.json_response(summary_json(summary))


def summary_json(summary: RestoreSummary) -> dict[str, Any]:
    """A restore's outcome as the API answers it (config file names only: the admin has the archive)."""
    return {
        "stations": summary.stations,
        "images": summary.images,
        "images_added": summary.images_added,
        "secrets": summary.secrets,
        "secrets_kept": summary.secrets_kept,
        "archive_created_at": summary.archive_created_at,
        "archive_site_id": summary.archive_site_id,
        "previous_registry": summary.previous_registry,
        "config": sorted(summary.config),
    }


async def _receive(request: web.Request, target: Path, most: int) -> None:
    """Save the upload, refusing early one larger than any archive can usefully be or than the card has room for."""
    if not request.can_read_body:
        raise InvalidInput("the body must be the backup archive's bytes")
    free = shutil.disk_usage(target.parent).free
    expected = request.content_length
    if expected is not None and expected > most:
        raise InvalidInput(f"a {expected:,}-byte archive is larger than the {most:,} bytes a backup may be")
    # Unpacking roughly doubles what is received.
    if expected is not None and expected * 2 + RESERVE_BYTES > free:
        raise StorageFull(f"a {expected:,}-byte archive needs about twice that free; {free:,} bytes are")
    received = 0
    with target.open("wb") as out:
        async for chunk in request.content.iter_chunked(256 * 1024):
            received += len(chunk)
            if received > most:
                raise InvalidInput(f"the archive is larger than the {most:,} bytes a backup may be")
            if received + RESERVE_BYTES > free:
                raise StorageFull(f"the archive is larger than the {free - RESERVE_BYTES:,} bytes of room left")
            out.write(chunk)
    if received == 0:
        raise InvalidInput("the body must be the backup archive's bytes")
