"""HTTP/1.1 keep-alive load on bare asyncio protocols: cheap enough that the server, not the client, is measured.

aiohttp's client costs more per request than a bare server spends answering it, so with it both sides of
a comparison would show the client's ceiling. Here a request is bytes prepared once, and an answer is
its status line, its Content-Length and a count of body bytes.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

_HEAD_END = b"\r\n\r\n"


class _Connection(asyncio.Protocol):
    """One keep-alive connection: one request at a time, the answer's body counted and (if small) kept."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._head = bytearray()
        self._body = bytearray()
        self._left: int | None = None  # body bytes still to come, once the head is read
        self._status = 0
        self._keep = True
        self._answer: asyncio.Future[tuple[int, int, bytes]] | None = None
        self._received = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(ConnectionError(f"the server hung up: {exc}"))

    def data_received(self, data: bytes) -> None:
        if self._left is None:
            self._head += data
            end = self._head.find(_HEAD_END)
            if end < 0:
                return
            head, data = bytes(self._head[:end]), bytes(self._head[end + 4 :])
            self._head.clear()
            self._status = int(head[9:12])
            self._left = _content_length(head)
        self._received += len(data)
        if self._keep:
            self._body += data
        self._left -= len(data)
        if self._left <= 0 and self._answer is not None and not self._answer.done():
            self._answer.set_result((self._status, self._received, bytes(self._body)))

    async def exchange(self, raw: bytes, *, keep_body: bool = True) -> tuple[int, int, bytes]:
        """Send one request; return (status, body length, body if kept)."""
        assert self.transport is not None
        self._answer = asyncio.get_running_loop().create_future()
        self._left, self._received, self._keep = None, 0, keep_body
        self._body.clear()
        self.transport.write(raw)
        return await self._answer


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


async def connect(host: str, port: int) -> _Connection:
    """A new keep-alive connection."""
    _, protocol = await asyncio.get_running_loop().create_connection(_Connection, host, port)
    return protocol


def post_json(path: str, body: object, headers: dict[str, str] | None = None) -> bytes:
    """A keep-alive POST of a JSON body, as bytes ready to send."""
    data = json.dumps(body).encode()
    lines = [f"POST {path} HTTP/1.1", "Host: stationmaster", "Content-Type: application/json"]
    lines += [f"Content-Length: {len(data)}", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


def get(path: str, headers: dict[str, str] | None = None) -> bytes:
    """A keep-alive GET, as bytes ready to send."""
    lines = [f"GET {path} HTTP/1.1", "Host: stationmaster", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@dataclass
class LoadResult:
    """What a closed-loop load measured."""

    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def rate(self) -> float:
        """Answered requests per second."""
        return len(self.latencies) / self.seconds


async def closed_loop(host: str, port: int, requests: list[bytes], seconds: float, expect: int = 200) -> LoadResult:
    """One connection per request (a station): each sends again as soon as it is answered, for `seconds`."""
    connections = []
    for _ in requests:  # connect first, so that connecting is not part of what is timed
        connections.append(await connect(host, port))
    result = LoadResult(seconds)
    deadline = time.perf_counter() + seconds

    async def station(connection: _Connection, raw: bytes) -> None:
        while (started := time.perf_counter()) < deadline:
            status, _, _ = await connection.exchange(raw)
            if status != expect:
                result.errors += 1
            result.latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(station(c, r) for c, r in zip(connections, requests, strict=True)))
    for connection in connections:
        assert connection.transport is not None
        connection.transport.close()
    return result


async def paced(host: str, port: int, requests: list[bytes], interval_s: float, seconds: float) -> LoadResult:
    """Open loop, as a site's stations are: each request every `interval_s` on a new connection (a station's
    HTTP client does not keep one for a minute), the first at a moment spread over the interval, for
    `seconds`; a latency is from the connection's start to the answer, and a slow one delays no other."""
    result = LoadResult(seconds)
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def station(index: int, raw: bytes) -> None:
        at = started + interval_s * index / len(requests)  # evenly spread: the shape of a fleet's phases
        while at < started + seconds:
            await asyncio.sleep(max(0.0, at - loop.time()))
            sent = time.perf_counter()
            connection = await connect(host, port)
            status, _, _ = await connection.exchange(raw)
            result.latencies.append(time.perf_counter() - sent)
            if status != 200:
                result.errors += 1
            assert connection.transport is not None
            connection.transport.close()
            at += interval_s

    await asyncio.gather(*(station(i, r) for i, r in enumerate(requests)))
    return result


async def fan_out(host: str, port: int, requests: list[bytes], size: int) -> float:
    """Every request at once, each on its own connection; aggregate body throughput in MiB/s."""
    connections = [await connect(host, port) for _ in requests]
    started = time.perf_counter()
    answers = await asyncio.gather(
        *(c.exchange(r, keep_body=False) for c, r in zip(connections, requests, strict=True))
    )
    elapsed = time.perf_counter() - started
    for connection in connections:
        assert connection.transport is not None
        connection.transport.close()
    for status, length, _ in answers:
        if status != 200 or length != size:
            raise RuntimeError(f"a download answered {status} with {length} of {size} bytes")
    return sum(length for _, length, _ in answers) / (1024 * 1024) / elapsed


def percentile(values: list[float], fraction: float) -> float:
    """The value below which `fraction` of `values` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


async def run_all(host: str, port: int, requests: list[bytes], concurrency: int, expect: int = 200) -> None:
    """Send every request once over `concurrency` keep-alive connections; raise if one is not answered `expect`."""
    pending = iter(requests)

    async def worker() -> None:
        connection = await connect(host, port)
        for raw in pending:
            status, _, body = await connection.exchange(raw)
            if status != expect:
                raise RuntimeError(f"answered {status}: {body[:200]!r}")
        assert connection.transport is not None
        connection.transport.close()

    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(requests)))))
