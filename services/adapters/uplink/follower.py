"""Follow the admin's signed release feed: verify, fetch each new image once (resuming), import it."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from yarl import URL

from services.adapters.uplink.download import UplinkMeter, discard, download, fetch_document
from services.core.errors import InvalidInput, NotFound, StationmasterError, UpstreamFailed
from services.domain.fleet import FirmwareLibrary
from services.domain.releases import Feed, FeedEntry, FeedRefused, PublicKey, verify_feed
from services.store.journal import EventLog, Journal
from services.store.registry import feed as feed_rows

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 6 * 3600
_RETRY_S = 300  # after a cut download: the link may be back soon, and the part is waiting
# How often the schedule is looked at: a newly followed feed is first synced within this.
_CHECK_EVERY_S = 60
_DOCUMENT_LIMIT = 1024 * 1024
_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=120)


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    """What one sync did."""

    feed: str  # "updated", "unchanged" (304) or "same" (200, same sequence)
    sequence: int
    imported: list[str] = field(default_factory=list)
    already_had: int = 0
    refused: list[dict[str, str]] = field(default_factory=list)
    interrupted: list[dict[str, str]] = field(default_factory=list)
    uplink_bytes: int = 0


class FeedFollower:
    """One site's subscription to one feed; `sync()` on demand, `run()` on a schedule."""

    def __init__(self, journal: Journal, library: FirmwareLibrary, data_dir: Path, max_image_bytes: int) -> None:
        self._journal = journal
        self._registry = journal.registry
        self._library = library
        self._dir = data_dir / "feed"
        self._max = max_image_bytes
        self._lock = asyncio.Lock()

    async def follow(self, url: object, public_key: object, interval_s: object = DEFAULT_INTERVAL_S) -> dict[str, Any]:
        """Follow the feed at `url` signed by `public_key`; the first sync follows within a minute."""
        parsed = URL(url) if isinstance(url, str) else None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
            raise InvalidInput("the feed URL must be an http:// or https:// URL")
        if not isinstance(interval_s, int) or isinstance(interval_s, bool) or interval_s < 60:
            raise InvalidInput("the sync interval must be a whole number of seconds, at least 60")
        key = PublicKey.parse(public_key if isinstance(public_key, str) else "")
        every, feed_url = interval_s, str(url)

        async def op(entry: EventLog) -> str:
            followed = await feed_rows.follow(entry.conn, feed_url, str(key), every)
            message = f"following the release feed {feed_url} (key {key.key_id})" + _replay_note(followed)
            await entry("feed_followed", None, message, url=feed_url, same=followed.same, sequence=followed.sequence)
            return message

        message = await self._journal.write(op)
        return {**await self.status(), "message": message}

    async def unfollow(self) -> None:
        """Stop following (imported images stay in the library)."""

        async def op(entry: EventLog) -> None:
            if not await feed_rows.unfollow(entry.conn):
                raise NotFound("this site follows no release feed")
            await entry("feed_unfollowed", None, "no longer following a release feed")

        await self._journal.write(op)

    async def status(self) -> dict[str, Any]:
        """The feed followed, its counters and its refusals; NotFound when none is followed."""
        row = await self._registry.feed.get()
        if row is None:
            raise NotFound("this site follows no release feed; `stationmaster feed follow URL --key KEY`")
        key = PublicKey.parse(row.pop("public_key"))
        row.pop("id", None)
        refused = list((await self._registry.feed.refusals()).values())
        return {**row, "key": str(key), "key_id": key.key_id, "refused": refused}

    async def sync(self) -> SyncOutcome:
        """Fetch the feed (conditionally), verify it, fetch and import what this site lacks; one at a time."""
        async with self._lock:
            row = await self._registry.feed.get()
            if row is None:
                raise NotFound("this site follows no release feed; `stationmaster feed follow URL --key KEY`")
            meter = UplinkMeter()
            try:
                async with aiohttp.ClientSession(timeout=_TIMEOUT, trust_env=True) as session:
                    return await self._sync(session, row, meter)
            except StationmasterError as exc:
                await self._record(meter, last_outcome=f"failed: {exc.message}")
                raise

    async def run(self) -> None:
        """Sync when due (never synced, the interval passed, or soon after a cut download) until cancelled."""
        # The retry is this run's own wait: on the monotonic clock, which no step of the wall clock moves.
        retry_at: float | None = None
        while True:
            await asyncio.sleep(_CHECK_EVERY_S)
            row = await self._registry.feed.get()
            if row is None:
                continue
            now, waited = self._journal.clock(), time.monotonic()
            last = row["last_sync_at"]
            due = last is None or now - last >= row["interval_s"] or (retry_at is not None and waited >= retry_at)
            if not due or self._lock.locked():
                continue
            retry_at = None
            try:
                outcome = await self.sync()
            except StationmasterError as exc:
                log.warning("release feed: %s", exc.message)
                retry_at = waited + _RETRY_S
            except Exception:
                log.exception("release feed: sync failed")
                retry_at = waited + _RETRY_S
            else:
                if outcome.interrupted:
                    retry_at = waited + _RETRY_S

    async def _sync(self, session: aiohttp.ClientSession, row: dict[str, Any], meter: UplinkMeter) -> SyncOutcome:
        key = PublicKey.parse(row["public_key"])
        cached = self._dir / "feed.json"
        headers = {}
        if row["etag"] and cached.is_file():
            headers["If-None-Match"] = row["etag"]
        if row["last_modified"] and cached.is_file():
            headers["If-Modified-Since"] = row["last_modified"]
        status, answer_headers, body = await fetch_document(session, row["url"], headers, meter, _DOCUMENT_LIMIT)
        if status == 304:
            feed, state = verify_feed(await asyncio.to_thread(cached.read_bytes), key), "unchanged"
        elif status == 200:
            feed = verify_feed(body, key)
            if row["sequence"] is not None and feed.sequence < row["sequence"]:
                raise FeedRefused(
                    f"the feed's sequence {feed.sequence} is older than the {row['sequence']} already seen:"
                    " a replayed old feed is not followed"
                )
            state = "same" if feed.sequence == row["sequence"] else "updated"
            await asyncio.to_thread(_write_atomically, cached, body)
            await self._record(
                None,
                etag=answer_headers.get("ETag"),
                last_modified=answer_headers.get("Last-Modified"),
                sequence=feed.sequence,
            )
        else:
            raise UpstreamFailed(f"the feed at {row['url']} answered HTTP {status}")
        outcome = await self._fetch_images(session, row["url"], feed, state, meter)
        await self._record(meter, last_outcome=_describe(outcome), add_imported=len(outcome.imported))
        return outcome

    async def _fetch_images(
        self, session: aiohttp.ClientSession, feed_url: str, feed: Feed, state: str, meter: UplinkMeter
    ) -> SyncOutcome:
        refusals = await self._registry.feed.refusals()
        imported: list[str] = []
        refused: list[dict[str, str]] = []
        interrupted: list[dict[str, str]] = []
        already = 0
        for entry in feed.entries:
            if await self._registry.images.get(entry.sha256) is not None:
                already += 1
                continue
            earlier = refusals.get(entry.sha256)
            if earlier is not None and earlier["sequence"] == feed.sequence:
                # Refused before in this very feed: fetching it again would only pay for the same bad file.
                refused.append({"sha256": entry.sha256, "reason": earlier["reason"]})
                continue
            try:
                await self._fetch_one(session, feed_url, entry, meter)
                imported.append(entry.sha256)
            except UpstreamFailed as exc:
                interrupted.append({"sha256": entry.sha256, "reason": exc.message})
            except InvalidInput as exc:  # FeedRefused and InvalidImage: the bytes are not what was signed
                refused.append({"sha256": entry.sha256, "reason": exc.message})
                await self._refuse(entry, feed.sequence, exc.message)
        return SyncOutcome(state, feed.sequence, imported, already, refused, interrupted, meter.bytes)

    async def _fetch_one(
        self, session: aiohttp.ClientSession, feed_url: str, entry: FeedEntry, meter: UplinkMeter
    ) -> None:
        if entry.size > self._max:
            raise FeedRefused(f"{entry.filename}: {entry.size:,} bytes is more than the {self._max:,} allowed")
        # An absolute URL (a pre-signed one, say) is used exactly as signed: re-encoding would break it.
        absolute = entry.url.startswith(("http://", "https://"))
        url = entry.url if absolute else str(URL(feed_url).join(URL(entry.url)))
        part = self._dir / "partial" / f"{entry.sha256}.part"
        await asyncio.to_thread(part.parent.mkdir, parents=True, exist_ok=True)
        _, fetched = await download(session, url, part, entry.size, meter)
        if fetched:
            await self._record(None, add_downloads=1)
        data = await asyncio.to_thread(part.read_bytes)
        digest = hashlib.sha256(data).hexdigest()
        if digest != entry.sha256:
            await asyncio.to_thread(discard, part)
            raise FeedRefused(
                f"{entry.filename}: its SHA-256 is {digest[:16]}…, the signed feed says {entry.sha256[:16]}…:"
                " the file on the server was changed or damaged; refused"
            )
        try:
            await self._library.import_image(data, entry.filename, project=entry.project, version=entry.version)
        finally:
            await asyncio.to_thread(discard, part)

    async def _refuse(self, entry: FeedEntry, sequence: int, reason: str) -> None:
        async def op(log_entry: EventLog) -> None:
            await feed_rows.refuse(log_entry.conn, entry.sha256, sequence, reason, log_entry.now)
            await log_entry("feed_image_refused", None, reason, sha256=entry.sha256)

        await self._journal.write(op)

    async def _record(self, meter: UplinkMeter | None, **changes: Any) -> None:
        if meter is not None:
            changes["add_uplink_bytes"] = meter.bytes
            meter.bytes = 0

        async def op(entry: EventLog) -> None:
            # Stamped in the transaction: a step of the clock meanwhile moves every stamp, this one with them.
            await feed_rows.record_sync(
                entry.conn, **changes, **({"last_sync_at": entry.now} if meter is not None else {})
            )
            if changes.get("add_imported"):
                await entry("feed_synced", None, f"release feed: {changes['last_outcome']}")

        await self._journal.write(op)


def _replay_note(followed: feed_rows.Followed) -> str:
    """What following did to replay protection, in words: the admin must know when it starts afresh."""
    if followed.same:
        held = f"sequence {followed.sequence}" if followed.sequence is not None else "none synced yet"
        return f"; already followed, so a feed older than the newest seen ({held}) is still refused"
    if followed.previous_url is None:
        return ""
    if followed.sequence is None:
        return "; another URL or key than the feed followed until now, so replay protection starts afresh"
    return f"; another URL or key than until now, followed here before: still held to its sequence {followed.sequence}"


def _describe(outcome: SyncOutcome) -> str:
    parts = [f"feed {outcome.feed} (sequence {outcome.sequence})", f"{len(outcome.imported)} imported"]
    if outcome.already_had:
        parts.append(f"{outcome.already_had} already here")
    if outcome.refused:
        parts.append(f"{len(outcome.refused)} refused")
    if outcome.interrupted:
        parts.append(f"{len(outcome.interrupted)} cut short (resumes)")
    return ", ".join(parts)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    temp.write_bytes(data)
    os.replace(temp, path)
