"""The one place where domain errors become HTTP statuses, with one body shape for every error."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from collections.abc import Awaitable, Callable

from aiohttp import HttpVersion11, hdrs, web, web_urldispatcher

from services.core.errors import (
    Conflict,
    DeviceFailed,
    Forbidden,
    InvalidInput,
    NotFound,
    StationmasterError,
    StorageFull,
    TooManyRequests,
    Unauthorized,
    UpstreamFailed,
)
from services.core.logsummary import LogSummary

log = logging.getLogger(__name__)
# Hang-ups are told at debug level, and a flood of them as one line a minute.
_HANG_UPS = LogSummary(log, logging.DEBUG)

_STATUS: list[tuple[type[StationmasterError], int]] = [
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (StorageFull, 507),
    (TooManyRequests, 429),
    (DeviceFailed, 502),
    (UpstreamFailed, 502),
    (InvalidInput, 400),
]
BODY_LIMIT = web.AppKey("body_limit", int)
# Seconds a client may take to send a request body: a body trickling in must not hold a connection for ever.
BODY_TIMEOUT = web.AppKey("body_timeout", float)
_SURROGATE = re.compile("[\ud800-\udfff]")
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
    except TooManyRequests as exc:
        response = error_response(429, exc.code, exc.message)
        response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
        return response
    except StationmasterError as exc:
        return error_response(status_for(exc), exc.code, exc.message)
    except web.RequestPayloadError as exc:
        # A body cut short, badly chunked or not decodable by its Content-Encoding, however it was read.
        return error_response(400, "bad_request", _unreadable(exc))
    except web.HTTPRequestEntityTooLarge:
        limit = request.app.get(BODY_LIMIT, 0)
        return error_response(413, "too_large", f"the body is larger than the {limit:,} bytes allowed")
    except ConnectionResetError:
        # The client hung up mid-request (a station losing its Wi-Fi mid-body, or someone doing it on purpose):
        # nobody is left to answer, and nothing is wrong with the appliance. The answer below is never sent.
        _HANG_UPS.note("a client hung up in the middle of %s %s", request.method, request.path)
        return error_response(400, "bad_request", "the connection was lost before the request was complete")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error_response(exc.status, _code(exc.status), exc.reason)
        for name in ("Content-Range", "Allow"):  # headers that give meaning to the status
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
        if exc.status == 408:
            response.force_close()  # the rest of a body that stalled is not worth waiting for
        return response
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(500, "internal", "the appliance hit an unexpected error; it is in the log")


async def read_body(request: web.Request) -> bytes:
    """Read a request's whole body within the app's time limit; refuse one that cannot be read, saying why."""
    try:
        if request.content.is_eof():
            return await request.read()  # all of it arrived with the headers (a check-in nearly always does)
        async with asyncio.timeout(request.app.get(BODY_TIMEOUT)):
            return await request.read()
    except TimeoutError:
        raise web.HTTPRequestTimeout(reason="the body did not arrive in time") from None
    except web.RequestPayloadError as exc:
        raise InvalidInput(_unreadable(exc)) from None


async def json_body(request: web.Request) -> object:
    """Read a request's JSON body, refusing what is not plain JSON (RFC 8259: UTF-8, no NaN) with a clear message."""
    if not request.can_read_body:
        raise InvalidInput("a JSON body is required")
    return parse_json(await read_body(request))


def parse_json(raw: bytes) -> object:
    """Parse JSON bytes into values every layer can store and send back, or raise InvalidInput saying why."""
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise InvalidInput("the body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc.msg} at position {exc.pos}") from None
    except RecursionError:
        raise InvalidInput("the body nests too deeply") from None
    except ValueError as exc:  # after JSONDecodeError, its subclass: Python's limit on digits in a number
        raise InvalidInput(f"the body holds a number too long to read: {str(exc)[:60]}") from None
    _refuse_lone_surrogates(value)
    return value


def _unreadable(exc: web.RequestPayloadError) -> str:
    cause = getattr(exc.__cause__, "message", None) or str(exc).split("message:", 1)[-1]
    return f"the body could not be read: {' '.join(str(cause).split())}"


def _refuse_constant(name: str) -> object:
    raise InvalidInput(f"the body is not valid JSON: {name} is not a JSON number")


def _refuse_lone_surrogates(value: object) -> None:
    # "\ud800" is valid JSON but not a character: no UTF-8 file, database or station can hold it.
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not item.isascii() and _SURROGATE.search(item):
                raise InvalidInput("the body holds text that is not Unicode (a lone surrogate \\uD800-\\uDFFF)")
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def _code(status: int) -> str:
    return {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(status, "bad_request")


def answer_bad_expectations() -> None:
    """Make every route (and every 404) answer an Expect header other than 100-continue with a JSON 417.

    aiohttp's own handler for it runs before any middleware and puts the header's text in its error page;
    a header with bytes that are not UTF-8 then breaks the page itself and the client gets a 500. Routes
    take their default from this module-level name when they are made, so set it before apps are built.
    """
    web_urldispatcher._default_expect_handler = _expect_handler  # type: ignore[assignment]


async def _expect_handler(request: web.Request) -> web.StreamResponse | None:
    if request.version != HttpVersion11:
        return None  # HTTP/1.0 has no 100 Continue: the body simply follows
    if request.headers.get(hdrs.EXPECT, "").strip().lower() == "100-continue":
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # the interim answer is not part of the response's size
        return None
    return error_response(417, "expectation_failed", "the only Expect understood is 100-continue")
