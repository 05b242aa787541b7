"""JSON answers compressed for a client that asks for it (one across a slow link), never for one that does not."""

from __future__ import annotations

from aiohttp import web

from services.adapters.http_errors import Handler

# Below this the headers and the deflate frame cost about what compression would save.
SMALLEST = 1024


@web.middleware
async def compress_answers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Deflate or gzip a JSON answer of some size when the request's Accept-Encoding allows it."""
    response = await handler(request)
    if (
        isinstance(response, web.Response)
        and not response.prepared
        and response.content_type == "application/json"
        and isinstance(response.body, bytes)
        and len(response.body) >= SMALLEST
        and any(name in request.headers.get("Accept-Encoding", "").lower() for name in ("gzip", "deflate"))
    ):
        response.enable_compression()
    return response
