"""HTTP GETs over the uplink that count every byte, and a download that resumes where it was cut (Range)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from yarl import URL

from services.core.errors import UpstreamFailed
from services.domain.releases import FeedRefused

_CHUNK = 64 * 1024


@dataclass(slots=True)
class UplinkMeter:
    """Bytes that crossed the uplink: request and answer headers and bodies (TLS and TCP framing not counted)."""

    bytes: int = 0

    def request(self, answer: aiohttp.ClientResponse) -> None:
        """Count a request line and headers, and the answer's status line and headers."""
        info = answer.request_info
        self.bytes += len(info.method) + len(str(info.url.raw_path_qs)) + 12
        self.bytes += sum(len(k) + len(v) + 4 for k, v in info.headers.items())
        self.bytes += 17 + len(answer.reason or "") + sum(len(k) + len(v) + 4 for k, v in answer.raw_headers)


async def fetch_document(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str], meter: UplinkMeter, limit: int
) -> tuple[int, dict[str, str], bytes]:
    """GET a small document (the feed); return status, headers and body, refusing one over `limit` bytes."""
    try:
        async with session.get(URL(url, encoded=True), headers=headers) as answer:
            meter.request(answer)
            body = b""
            if answer.status == 200:
                async for chunk in answer.content.iter_chunked(_CHUNK):
                    meter.bytes += len(chunk)
                    body += chunk
                    if len(body) > limit:
                        raise FeedRefused(f"the feed at {url} is larger than {limit:,} bytes")
            return answer.status, dict(answer.headers), body
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise UpstreamFailed(f"cannot fetch {url}: {str(exc) or type(exc).__name__}") from None


async def download(
    session: aiohttp.ClientSession, url: str, part: Path, size: int, meter: UplinkMeter
) -> tuple[Path, int]:
    """Fetch `url` into `part`, resuming from the bytes already there; return it and the body bytes fetched now.

    A cut connection leaves `part` for the next try (raises UpstreamFailed); a server that ignores Range
    sends the whole file again, which replaces the part; more bytes than `size` are refused.
    """
    meta_path = part.with_suffix(".json")
    have = await asyncio.to_thread(_size, part)
    meta = await asyncio.to_thread(_read_meta, meta_path)
    if have > size or meta.get("url") != url:
        have = 0
    if have == size:
        return part, 0
    headers = {"Accept-Encoding": "identity"}
    validator = meta.get("etag") or meta.get("last_modified")
    if have and validator:
        # If-Range: if the file changed on the server since the part was fetched, send it whole instead.
        headers.update({"Range": f"bytes={have}-", "If-Range": validator})
    elif have:
        headers["Range"] = f"bytes={have}-"
    fetched = 0
    try:
        # encoded=True: a pre-signed URL's query must reach the server byte for byte.
        async with session.get(URL(url, encoded=True), headers=headers) as answer:
            meter.request(answer)
            if answer.status == 206 and _range_start(answer) == have:
                mode = "ab"
            elif answer.status == 200:
                mode, have = "wb", 0
            else:
                raise UpstreamFailed(f"{url} answered {answer.status} {answer.reason}")
            await asyncio.to_thread(
                _write_meta,
                meta_path,
                {"url": url, "etag": answer.headers.get("ETag"), "last_modified": answer.headers.get("Last-Modified")},
            )
            with part.open(mode) as out:
                async for chunk in answer.content.iter_chunked(_CHUNK):
                    meter.bytes += len(chunk)
                    fetched += len(chunk)
                    if have + fetched > size:
                        raise FeedRefused(f"{url} is larger than the {size:,} bytes the signed feed says")
                    await asyncio.to_thread(out.write, chunk)
    except FeedRefused:
        await asyncio.to_thread(discard, part)
        raise
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise UpstreamFailed(
            f"the download of {url} was cut after {have + fetched:,} of {size:,} bytes"
            f" ({str(exc) or type(exc).__name__}); it resumes from there next time"
        ) from None
    if have + fetched != size:
        raise UpstreamFailed(f"{url} ended after {have + fetched:,} of {size:,} bytes; it resumes next time")
    return part, fetched


def discard(part: Path) -> None:
    """Remove a part file and its notes."""
    part.unlink(missing_ok=True)
    part.with_suffix(".json").unlink(missing_ok=True)


def _range_start(answer: aiohttp.ClientResponse) -> int | None:
    value = answer.headers.get("Content-Range", "")  # bytes START-END/TOTAL
    with contextlib.suppress(ValueError, IndexError):
        return int(value.split()[1].split("-")[0])
    return None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _read_meta(path: Path) -> dict[str, str | None]:
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _write_meta(path: Path, meta: dict[str, str | None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(meta))
