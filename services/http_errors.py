"""The one place where domain errors become HTTP statuses, with one body shape for every error."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from services.errors import (
    Conflict,
    DeviceFailed,
    Forbidden,
    InvalidInput,
    NotFound,
    StationmasterError,
    StorageFull,
    Unauthorized,
    UpstreamFailed,
)

log = logging.getLogger(__name__)

_STATUS: list[tuple[type[StationmasterError], int]] = [
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (StorageFull, 507),
    (DeviceFailed, 502),
    (UpstreamFailed, 502),
    (InvalidInput, 400),
]
BODY_LIMIT = web.AppKey("body_limit", int)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(status: int, code: str, message: str) -> web.Response:
    """Build the standard error answer: `{"error": {"code", "message"}}`."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


def status_for(error: StationmasterError) -> int:
    """Return the HTTP status for a domain error."""
    for kind, status in _STATUS:
        if isinstance(error, kind):
            return status
    return 400


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer domain errors, HTTP errors and surprises with the standard JSON body; never leak a trace."""
    try:
        return await handler(request)
    except StationmasterError as exc:
        return error_response(status_for(exc), exc.code, exc.message)
    except web.HTTPRequestEntityTooLarge:
        limit = request.app.get(BODY_LIMIT, 0)
        return error_response(413, "too_large", f"the body is larger than the {limit:,} bytes allowed")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error_response(exc.status, _code(exc.status), exc.reason)
        for name in ("Content-Range", "Allow"):  # headers that give meaning to the status
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
        return response
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(500, "internal", "the appliance hit an unexpected error; it is in the log")


async def json_body(request: web.Request) -> object:
    """Read a request's JSON body, refusing what is not JSON with a clear message."""
    if not request.can_read_body:
        raise InvalidInput("a JSON body is required")
    raw = await request.read()
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidInput("the body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc.msg} at position {exc.pos}") from None
    except RecursionError:
        raise InvalidInput("the body nests too deeply") from None


def _code(status: int) -> str:
    return {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(status, "bad_request")
