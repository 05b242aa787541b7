"""The store keeps whole images under their digest, never shows a partial one, and survives a full disk."""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from services.core.errors import InvalidInput, StorageFull
from services.domain.firmware.store import FirmwareStore
from tests.imagefactory import build_image

ROOT = Path(__file__).resolve().parents[2]


def files_under(root: Path) -> list[Path]:
    """Every file in the store, temporary ones included."""
    return sorted(path for path in root.rglob("*") if path.is_file())


def run_child(code: str, root: Path) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter with `store` open on `root`: a process that can really die."""
    prelude = (
        "from pathlib import Path\n"
        "from services.domain.firmware.store import FirmwareStore\n"
        f"store = FirmwareStore(Path({str(root)!r}))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_image_is_stored_under_its_full_digest(tmp_path: Path) -> None:
    store = FirmwareStore(tmp_path)
    data = build_image("esp32c3")
    digest = hashlib.sha256(data).hexdigest()
    path = store.put(data)
    assert path == tmp_path / digest[:2] / digest == store.path_for(digest)
    assert path.read_bytes() == data
    assert store.has(digest)
    assert files_under(tmp_path) == [path]


def test_importing_the_same_image_twice_leaves_the_first_copy_alone(tmp_path: Path) -> None:
    store = FirmwareStore(tmp_path)
    data = build_image("esp8266")
    first = store.put(data)
    before = first.stat()
    assert store.put(data) == first
    after = first.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not rewritten
    assert files_under(tmp_path) == [first]


def test_a_stored_copy_that_rotted_is_replaced_by_a_whole_one(tmp_path: Path) -> None:
    store = FirmwareStore(tmp_path)
    data = build_image("esp32")
    path = store.put(data)
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # a flipped bit on the SD card
    assert store.put(data) == path
    assert path.read_bytes() == data


def test_a_failed_rename_leaves_neither_a_partial_image_nor_a_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FirmwareStore(tmp_path)

    def failing_replace(*_: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="Input/output error"):
        store.put(build_image("esp32"))
    assert files_under(tmp_path) == []


def test_a_crash_mid_import_leaves_only_a_dot_file_that_start_up_sweeps(tmp_path: Path) -> None:
    # The child dies (os._exit: no cleanup, no finally) right where the rename would make the image visible.
    data_file = tmp_path / "image.bin"
    data_file.write_bytes(build_image("esp32c3", payload_size=200_000))
    root = tmp_path / "store"
    child = run_child(
        f"""
        import os
        os.replace = lambda *_: os._exit(9)
        store.put(Path({str(data_file)!r}).read_bytes())
        """,
        root,
    )
    assert child.returncode == 9, child.stderr
    digest = hashlib.sha256(data_file.read_bytes()).hexdigest()
    store = FirmwareStore(root)
    assert not store.has(digest)
    [leftover] = files_under(root)
    assert leftover.name.startswith(".")
    assert leftover.read_bytes() == data_file.read_bytes()
    with pytest.raises(InvalidInput):
        store.path_for(leftover.name)  # no digest can name it, so nothing can serve it
    assert store.sweep_partials() == 1
    assert files_under(root) == []
    assert store.sweep_partials() == 0


def test_sweeping_keeps_every_whole_image(tmp_path: Path) -> None:
    store = FirmwareStore(tmp_path)
    kept = [store.put(build_image(chip)) for chip in ("esp8266", "esp32", "esp32c3")]
    (kept[0].parent / ".partial-abc123").write_bytes(b"\xe9half")
    (kept[1].parent / ".partial-def456").write_bytes(b"")
    assert store.sweep_partials() == 2
    assert files_under(tmp_path) == sorted(kept)


def test_sweeping_a_store_that_was_never_written_finds_nothing(tmp_path: Path) -> None:
    assert FirmwareStore(tmp_path / "not-yet").sweep_partials() == 0


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_a_full_disk_is_reported_as_storage_full_and_nothing_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    # A full SD card cannot be made here without root, so the write fails the way the kernel fails it,
    # after part of the image is already on disk.
    store = FirmwareStore(tmp_path)
    real_write = os.write
    calls = 0

    def write_until_full(fd: int, chunk: bytes) -> int:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise OSError(code, os.strerror(code))
        return real_write(fd, chunk)

    monkeypatch.setattr(os, "write", write_until_full)
    with pytest.raises(StorageFull, match="no room for"):
        store.put(build_image("esp32", payload_size=3 * 1024 * 1024))
    assert calls == 2
    assert files_under(tmp_path) == []


def test_a_kernel_file_size_limit_is_storage_full_too(tmp_path: Path) -> None:
    # RLIMIT_FSIZE makes the kernel itself refuse the write (EFBIG) with no root and no fake.
    child = run_child(
        """
        import resource, signal
        from services.core.errors import StorageFull
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
        try:
            store.put(bytes(1024 * 1024))
        except StorageFull as exc:
            print(exc.message)
        """,
        tmp_path,
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.startswith("no room for 1048576 more bytes")
    assert files_under(tmp_path) == []


def test_bytes_that_do_not_match_their_digest_are_never_moved_into_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FirmwareStore(tmp_path)
    real_write = os.write

    def garbling_write(fd: int, chunk: bytes) -> int:
        garbled = bytearray(chunk)
        garbled[0] ^= 0xFF
        return real_write(fd, bytes(garbled))

    monkeypatch.setattr(os, "write", garbling_write)
    with pytest.raises(OSError, match="do not match their SHA-256"):
        store.put(build_image("esp32c3"))
    assert files_under(tmp_path) == []


def test_a_removed_image_is_gone_and_removing_it_again_is_harmless(tmp_path: Path) -> None:
    store = FirmwareStore(tmp_path)
    data = build_image("esp32")
    digest = hashlib.sha256(data).hexdigest()
    store.put(data)
    store.remove(digest)
    assert not store.has(digest)
    store.remove(digest)
    assert files_under(tmp_path) == []


@pytest.mark.parametrize("name", ["../../etc/passwd", "ab", "A" * 64, "g" * 64, "", "0" * 63 + "/"])
def test_only_a_lowercase_hex_sha256_names_an_image(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidInput, match="not a SHA-256 digest"):
        FirmwareStore(tmp_path).path_for(name)
