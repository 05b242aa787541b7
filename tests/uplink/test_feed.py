"""The release feed against a real HTTP server on loopback: signed, verified, fetched once, resumed when cut."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from appliance.contract.client import AdminClient, AdminError
from services.domain.releases import FeedEntry, sign_feed
from services.domain.releases.keys import generate_key, public_key_of
from services.root.service import StationmasterService
from tests.imagefactory import build_image, flip_byte


class FeedServer:
    """A static file server (aiohttp's FileResponse answers Range and If-Range) that logs every request."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[tuple[str, str | None]] = []
        self.cut_next: set[str] = set()  # file names whose next answer breaks off halfway
        self.app = web.Application()
        self.app.router.add_get("/{name}", self._serve)

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.requests.append((name, request.headers.get("Range")))
        path = self.root / name
        if not path.is_file():
            raise web.HTTPNotFound()
        if name in self.cut_next:
            self.cut_next.discard(name)
            data = path.read_bytes()
            response = web.StreamResponse(headers={"Content-Length": str(len(data))})
            await response.prepare(request)
            await response.write(data[: len(data) // 2])
            # The link stays up a moment, as a real one does before it drops: long enough for the client
            # to take in what arrived (a reset discards what it had not read yet).
            await asyncio.sleep(0.3)
            assert request.transport is not None
            request.transport.close()  # the 3G link drops mid-download
            return response
        return web.FileResponse(path)


@pytest.fixture
async def feed_server(tmp_path: Path) -> AsyncIterator[tuple[FeedServer, str]]:
    root = tmp_path / "bucket"
    root.mkdir()
    server = FeedServer(root)
    test_server = TestServer(server.app, host="127.0.0.1")
    await test_server.start_server()
    yield server, str(test_server.make_url("/feed.json"))
    await test_server.close()


def publish(
    root: Path, images: dict[str, bytes], sequence: int, key: object, *, signed: dict[str, bytes] | None = None
) -> None:
    """What the admin does on his machine: put the images in the bucket and sign the feed for them."""
    from services.domain.firmware.image import inspect_image

    entries = []
    for name, data in (signed or images).items():
        info = inspect_image(data)
        entries.append(FeedEntry(name, info.sha256, info.size, info.chip, info.project, info.version, name))
    for name, data in images.items():
        (root / name).write_bytes(data)
    (root / "feed.json").write_bytes(sign_feed(key, sequence, entries))  # type: ignore[arg-type]


async def test_a_signed_feed_imports_once_and_a_second_sync_downloads_nothing(
    service: StationmasterService, admin: AdminClient, feed_server: tuple[FeedServer, str]
) -> None:
    server, url = feed_server
    key = generate_key()
    images = {
        "weather-1.5.0.bin": build_image("esp32", project="weather", version="1.5.0", payload_size=60_000),
        "door-2.0.0.bin": build_image("esp8266", payload_size=30_000),
    }
    publish(server.root, images, 1, key)
    await admin.follow_feed(url, str(public_key_of(key)))
    first = await admin.sync_feed()
    assert len(first["imported"]) == 2
    assert first["refused"] == []
    assert first["interrupted"] == []
    assert {i["filename"] for i in await admin.images()} == set(images)
    body_bytes = sum(len(d) for d in images.values()) + (server.root / "feed.json").stat().st_size
    assert body_bytes < first["uplink_bytes"] < body_bytes + 3000  # bodies plus headers, nothing twice

    server.requests.clear()
    second = await admin.sync_feed()
    assert second["feed"] == "unchanged"
    assert second["imported"] == []
    assert second["already_had"] == 2
    assert server.requests == [("feed.json", None)]  # one conditional GET, answered 304
    assert second["uplink_bytes"] < 1000
    status = await admin.feed()
    assert status["uplink_bytes"] == first["uplink_bytes"] + second["uplink_bytes"]
    assert status["imported"] == 2


async def test_an_interrupted_download_resumes_where_it_broke(
    service: StationmasterService, admin: AdminClient, feed_server: tuple[FeedServer, str]
) -> None:
    server, url = feed_server
    key = generate_key()
    data = build_image("esp32", project="weather", version="1.6.0", payload_size=200_000)
    publish(server.root, {"weather-1.6.0.bin": data}, 1, key)
    server.cut_next.add("weather-1.6.0.bin")
    await admin.follow_feed(url, str(public_key_of(key)))
    cut = await admin.sync_feed()
    assert cut["imported"] == []
    assert "resumes" in cut["interrupted"][0]["reason"]
    (part,) = (service.settings.data_dir / "feed" / "partial").glob("*.part")
    kept = part.stat().st_size
    assert 0 < kept <= len(data) // 2
    resumed = await admin.sync_feed()
    assert len(resumed["imported"]) == 1
    assert server.requests[-1] == ("weather-1.6.0.bin", f"bytes={kept}-")
    # Only what was missing crossed the uplink the second time.
    assert len(data) - kept < resumed["uplink_bytes"] < len(data) - kept + 3000
    assert not part.exists()


async def test_a_tampered_image_is_refused_and_not_fetched_again(
    service: StationmasterService, admin: AdminClient, feed_server: tuple[FeedServer, str]
) -> None:
    server, url = feed_server
    key = generate_key()
    good = build_image("esp32", project="weather", version="1.7.0")
    publish(server.root, {"weather-1.7.0.bin": flip_byte(good, 300)}, 1, key, signed={"weather-1.7.0.bin": good})
    await admin.follow_feed(url, str(public_key_of(key)))
    outcome = await admin.sync_feed()
    assert outcome["imported"] == []
    reason = outcome["refused"][0]["reason"]
    assert "weather-1.7.0.bin: its SHA-256 is" in reason
    assert "changed or damaged" in reason
    assert await admin.images() == []
    server.requests.clear()
    again = await admin.sync_feed()
    assert again["refused"][0]["reason"] == reason
    assert server.requests == [("feed.json", None)]  # the bad file is not paid for twice
    events = [e["kind"] for e in await admin.events(limit=10)]
    assert "feed_image_refused" in events


async def test_a_bad_signature_or_another_key_is_refused_with_a_clear_message(
    service: StationmasterService, admin: AdminClient, feed_server: tuple[FeedServer, str]
) -> None:
    server, url = feed_server
    key, stranger = generate_key(), generate_key()
    publish(server.root, {"w.bin": build_image("esp32", version="1.8.0")}, 1, key)
    await admin.follow_feed(url, str(public_key_of(key)))
    feed_file = server.root / "feed.json"
    feed_file.write_bytes(feed_file.read_bytes().replace(b"1.8.0", b"1.9.0"))
    with pytest.raises(AdminError) as changed:
        await admin.sync_feed()
    assert changed.value.code == "feed_refused"
    assert "signature does not verify" in changed.value.message
    publish(server.root, {"w.bin": build_image("esp32", version="1.8.0")}, 2, stranger)
    with pytest.raises(AdminError) as foreign:
        await admin.sync_feed()
    assert "not the one this appliance follows" in foreign.value.message
    assert await admin.images() == []
    assert "failed" in (await admin.feed())["last_outcome"]
