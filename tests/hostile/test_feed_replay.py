"""Following the same feed again never turns off replay protection: an older signed feed stays refused.

The feed server (or anyone between it and the site, over plain HTTP) can serve an older feed.json, signed by
the admin's own key: its lower sequence number is all that tells it apart. `serve` runs as systemd runs it;
the server is a plain file server on loopback.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from appliance.contract.client import AdminClient, AdminError
from services.domain.releases.keys import generate_key, public_key_of
from tests.conftest import ServeProcess, serving, stationmaster_command
from tests.hostile.sitestate import capture
from tests.imagefactory import build_image
from tests.uplink.test_feed import FeedServer, feed_server, publish

__all__ = ["feed_server"]  # the fixture, shared with the feed's own tests

WITHDRAWN = "weather-1.5.0.bin"


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[ServeProcess]:
    async with serving(tmp_path) as serve:
        yield serve


def _new_etag(path: Path, seconds: float) -> None:
    """Give a file the server serves a new ETag (its mtime), whatever the file system's clock granularity."""
    later = path.stat().st_mtime + seconds
    os.utime(path, (later, later))


def _follow(serve: ServeProcess, url: str, key: str, *more: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STATIONMASTER_ADMIN_SOCKET": str(serve.socket)}
    command = stationmaster_command("feed", "follow", url, "--key", key, *more)
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)


async def test_following_the_same_feed_again_keeps_an_older_feed_refused(
    site: ServeProcess, feed_server: tuple[FeedServer, str]
) -> None:
    server, url = feed_server
    key = generate_key()
    public = str(public_key_of(key))
    withdrawn = build_image("esp32", project="weather", version="1.5.0", payload_size=40_000)
    current = build_image("esp32", project="weather", version="1.6.0", payload_size=40_000)
    publish(server.root, {WITHDRAWN: withdrawn}, 1, key)
    old_feed = (server.root / "feed.json").read_bytes()
    async with AdminClient(site.socket) as admin:
        assert (await asyncio.to_thread(_follow, site, url, public)).returncode == 0
        await admin.sync_feed()
        # 1.5.0 bricks a board: the admin withdraws it and publishes 1.6.0 alone.
        sha = next(i["sha256"] for i in await admin.images() if i["filename"] == WITHDRAWN)
        await admin.delete_image(sha)
        publish(server.root, {"weather-1.6.0.bin": current}, 2, key)
        _new_etag(server.root / "feed.json", 60)
        assert (await admin.sync_feed())["imported"] == [hashlib.sha256(current).hexdigest()]

        # The admin follows the same feed again (to change how often it is looked at): nothing goes back.
        again = await asyncio.to_thread(_follow, site, url, public, "--every", "3600")
        assert again.returncode == 0, again.stderr
        (server.root / "feed.json").write_bytes(old_feed)  # the server replays the old feed
        _new_etag(server.root / "feed.json", 120)
        server.requests.clear()
        before = capture(site.data_dir, also_skip=("feed",))
        with pytest.raises(AdminError) as refused:
            await admin.sync_feed()
        assert "older than the 2 already seen" in refused.value.message
        assert server.requests == [("feed.json", None)], "the withdrawn image was not fetched again"
        assert WITHDRAWN not in {i["filename"] for i in await admin.images()}
        assert capture(site.data_dir, also_skip=("feed",)) == before
        assert "still refused" in again.stdout, "following it again said what it kept"

        # Nor after an unfollow: the same feed followed later is held to the sequence it reached.
        await admin.unfollow_feed()
        assert (await asyncio.to_thread(_follow, site, url, public)).returncode == 0
        with pytest.raises(AdminError):
            await admin.sync_feed()
        assert WITHDRAWN not in {i["filename"] for i in await admin.images()}

        # Another key is another feed: its sequence starts afresh, and the admin is told so.
        other = str(public_key_of(generate_key()))
        switched = await asyncio.to_thread(_follow, site, url, other)
        assert switched.returncode == 0, switched.stderr
        assert "replay protection starts afresh" in switched.stdout
