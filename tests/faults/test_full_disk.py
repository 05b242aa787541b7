"""A full SD card: an import is refused with a clear error and leaves nothing half-written; the service lives on.

The data directory is a real 6 MiB tmpfs, mounted in a private mount namespace that only the service
sees (`unshare -m`), so the kernel itself answers ENOSPC and the machine's own disk is never filled.
The test reads that filesystem through /proc/<pid>/root. It needs root, as CI has.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from appliance.contract.client import JSON, AdminClient, AdminError
from services.root.service import FIRMWARE_DIR, REGISTRY_FILE
from tests.conftest import ServeProcess, stationmaster_command
from tests.imagefactory import build_image
from tests.stock_clients import esp32_httpupdate_headers

DISK_MIB = 6
IMAGE_BYTES = 2 * 1024 * 1024

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare (util-linux) for a tmpfs"
)


class SmallDisk:
    """`serve` whose data directory is a tmpfs of DISK_MIB MiB in its own mount namespace."""

    def __init__(self, tmp_path: Path) -> None:
        (tmp_path / "data").mkdir()
        mount = f'mount -t tmpfs -o size={DISK_MIB}m,mode=0700 stationmaster-test "$0" && exec "$@"'
        self.serve = ServeProcess(
            tmp_path,
            prefix=["unshare", "--mount", "--propagation", "private", "sh", "-c", mount, str(tmp_path / "data")],
        )

    def path(self, *parts: str) -> Path:
        """A path in the data directory as the service sees it."""
        return Path(f"/proc/{self.serve.pid}/root") / self.serve.data_dir.relative_to("/").joinpath(*parts)

    def fill(self) -> int:
        """Fill what is left of the disk with (more) zeros in `filler`; return the filler's size."""
        fd = os.open(self.path("filler"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            while True:
                os.write(fd, bytes(64 * 1024))
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
        finally:
            os.close(fd)
        return self.path("filler").stat().st_size

    def free(self, size: int) -> None:
        """Give back `size` bytes (whole pages) of the filler."""
        filler = self.path("filler")
        os.truncate(filler, filler.stat().st_size - size)

    def shrink_registry_log(self) -> None:
        """Checkpoint and truncate the registry's write-ahead log, so that its next commit needs new pages."""
        db = sqlite3.connect(self.path(REGISTRY_FILE), timeout=10)
        try:
            assert db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0, "the checkpoint ran"
        finally:
            db.close()

    def stored_files(self) -> list[Path]:
        return sorted(p for p in self.path(FIRMWARE_DIR).rglob("*") if p.is_file())

    def integrity(self) -> str:
        db = sqlite3.connect(self.path(REGISTRY_FILE), timeout=10)
        try:
            return str(db.execute("PRAGMA integrity_check").fetchone()[0])
        finally:
            db.close()


@pytest.fixture
async def disk(tmp_path: Path) -> AsyncIterator[SmallDisk]:
    """The service running on its small disk."""
    small = SmallDisk(tmp_path)
    await asyncio.to_thread(small.serve.start)
    mounts = await asyncio.to_thread(Path(f"/proc/{small.serve.pid}/mounts").read_text)
    assert f" {small.serve.data_dir} tmpfs " in mounts, "the data directory is the small tmpfs"
    yield small
    if small.serve.proc is not None and small.serve.proc.poll() is None:
        small.serve.stop()


def _image(n: int) -> bytes:
    return build_image("esp32", project="big", version=f"1.{n}.0", payload_size=IMAGE_BYTES, seed=n)


async def test_an_import_that_does_not_fit_is_refused_and_nothing_is_half_written(disk: SmallDisk) -> None:
    async with AdminClient(disk.serve.socket) as admin:
        # Two 2 MiB images fit in 6 MiB beside the registry; the third runs out of room while being written.
        imported = [(await admin.import_image(_image(n), f"big-{n}.bin"))["sha256"] for n in range(2)]
        with pytest.raises(AdminError) as refusal:
            await admin.import_image(_image(2), "big-2.bin")
        assert (refusal.value.code, refusal.value.status) == ("storage_full", 507)
        assert "no room for" in refusal.value.message
        assert "No space left on device" in refusal.value.message
        assert {image["sha256"] for image in await admin.images()} == set(imported)
    files = await asyncio.to_thread(disk.stored_files)
    assert sorted(p.name for p in files) == sorted(imported), "no partial file is left behind"
    for path in files:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name
    assert await asyncio.to_thread(disk.integrity) == "ok"

    # The admin's view: the CLI says why and exits 1.
    third = disk.serve.data_dir.parent / "third.bin"
    third.write_bytes(_image(9))
    result = await asyncio.to_thread(
        subprocess.run,
        stationmaster_command("--admin-socket", str(disk.serve.socket), "firmware", "import", str(third)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result
    assert "no room for" in result.stderr


async def test_a_full_disk_refuses_check_ins_clearly_and_they_resume_once_there_is_room(disk: SmallDisk) -> None:
    macs = [f"24:0A:C4:00:60:{n:02X}" for n in range(20)]
    async with aiohttp.ClientSession(disk.serve.url) as http:
        for mac in macs[:10]:
            async with http.post("/api/v1/checkin", json={"mac": mac, "rssi": -60}) as response:
                assert response.status == 200
        await asyncio.to_thread(disk.fill)
        refused = []
        for mac in macs[10:]:
            async with http.post("/api/v1/checkin", json={"mac": mac, "rssi": -60, "uptime_s": 1}) as response:
                body = await response.json()
                if response.status != 200:
                    refused.append((response.status, body["error"]["code"]))
        assert refused, "with no room left some check-in was refused"
        assert set(refused) == {(507, "storage_full")}
        await asyncio.to_thread(disk.path("filler").unlink)
        async with http.post("/api/v1/checkin", json={"mac": macs[-1], "rssi": -61}) as response:
            assert response.status == 200, "once there is room again the service carries on by itself"
    async with AdminClient(disk.serve.socket) as admin:
        stored = {s["mac"] for s in await admin.stations()}
    assert set(macs[:10]) | {macs[-1]} <= stored
    assert await asyncio.to_thread(disk.integrity) == "ok"
    assert disk.serve.proc is not None
    assert disk.serve.proc.poll() is None, "the service never fell over"
    log = await asyncio.to_thread(disk.serve.log_path.read_text)
    assert "Traceback" not in log


async def test_an_image_that_fits_but_cannot_be_recorded_leaves_no_file(disk: SmallDisk) -> None:
    # Room for the image's bytes and not one page more: the store takes it, then the registry cannot
    # record it. A file the library does not list could never be deleted by the admin, so it must go.
    image = _image(7)
    pages = -(-len(image) // 4096)
    await asyncio.to_thread(disk.fill)
    await asyncio.to_thread(disk.shrink_registry_log)
    await asyncio.to_thread(disk.fill)
    await asyncio.to_thread(disk.free, pages * 4096)
    async with AdminClient(disk.serve.socket) as admin:
        with pytest.raises(AdminError) as refusal:
            await admin.import_image(image, "tight.bin")
        assert (refusal.value.code, refusal.value.status) == ("storage_full", 507)
        assert "registry is full" in refusal.value.message
        assert await admin.images() == []
    assert await asyncio.to_thread(disk.stored_files) == [], "the stored bytes were taken back"
    await asyncio.to_thread(disk.path("filler").unlink)
    async with AdminClient(disk.serve.socket) as admin:
        assert (await admin.import_image(image, "tight.bin"))["sha256"] == hashlib.sha256(image).hexdigest()
    assert await asyncio.to_thread(disk.integrity) == "ok"


async def test_a_download_that_cannot_be_recorded_never_reaches_the_station_whole(disk: SmallDisk) -> None:
    # A download's start is committed while its first bytes go out; its last bytes wait for that record. With
    # no room for the record the station must not end up holding an image the transfer log knows nothing of.
    image = build_image("esp32", project="held", version="2.0.0", payload_size=512 * 1024)
    mac = "24:0A:C4:00:61:01"
    headers = esp32_httpupdate_headers(sta_mac=mac, free_space=4 << 20, sketch_size=300_000, sketch_md5="0" * 32)
    async with AdminClient(disk.serve.socket) as admin, aiohttp.ClientSession(disk.serve.url) as http:
        async with http.get("/ota", headers=headers) as discovered:
            assert discovered.status == 304
        await admin.accept(mac)
        await admin.set_chip(mac, "esp32")
        await admin.assign((await admin.import_image(image, "held.bin"))["sha256"], station=mac)
        await asyncio.to_thread(disk.fill)
        await asyncio.to_thread(disk.shrink_registry_log)
        await asyncio.to_thread(disk.fill)
        received = bytearray()

        async def download() -> None:
            async with http.get("/ota", headers=headers) as cut:
                assert cut.status == 200
                async for chunk in cut.content.iter_any():
                    received.extend(chunk)

        with pytest.raises(aiohttp.ClientPayloadError):
            await download()
        assert 0 < len(received) < len(image), "the station got the image's head and not its end"
        assert bytes(received) == image[: len(received)]
        async with http.get("/ota", headers=headers) as refused:
            # The disk is known to be full now: the next poll is told so at once and pulls nothing.
            assert refused.status == 507
            assert (await refused.json())["error"]["code"] == "storage_full"
        await asyncio.to_thread(disk.path("filler").unlink)
        connected = asyncio.Event()

        async def finished() -> JSON:
            async for message in admin.stream_events(on_connect=connected.set):
                if message["kind"] in ("download_finished", "download_interrupted"):
                    return message
            raise AssertionError("the event stream ended")

        listener = asyncio.create_task(finished())
        await asyncio.wait_for(connected.wait(), 10)
        async with http.get("/ota", headers=headers) as whole:
            assert whole.status == 200
            assert await whole.read() == image, "once there is room the same station downloads it whole"
        assert (await asyncio.wait_for(listener, 30))["kind"] == "download_finished"
        logged = await admin.events(mac=mac)
    kinds = [event["kind"] for event in logged if event["kind"].startswith("download_")]
    assert kinds == ["download_finished"], "only the download on record is in the log"
    log = await asyncio.to_thread(disk.serve.log_path.read_text)
    assert f"{mac}: the download's start could not be recorded" in log
    assert "Traceback" not in log
