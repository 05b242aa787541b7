"""The store never shows a partial image, survives a full disk cleanly and is idempotent."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest

from services.errors import StorageFull
from services.firmware.store import FirmwareStore


def test_an_image_is_stored_under_its_digest_once(tmp_path: Path) -> None:
    store = FirmwareStore(tmp_path)
    data = b"\xe9" + os.urandom(5000)
    path = store.put(data)
    assert path == tmp_path / hashlib.sha256(data).hexdigest()[:2] / hashlib.sha256(data).hexdigest()
    assert path.read_bytes() == data
    assert store.put(data) == path
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [path]


def test_a_failed_rename_leaves_no_file_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = FirmwareStore(tmp_path)

    def power_cut(*_: object) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, "replace", power_cut)
    with pytest.raises(OSError, match="I/O error"):
        store.put(b"\xe9" + bytes(1000))
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_full_disk_is_a_clear_error_and_nothing_is_left(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A full SD card cannot be made here without root tricks; the write fails the way the kernel fails it.
    store = FirmwareStore(tmp_path)
    real_fsync = os.fsync

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(StorageFull, match="the disk is full"):
        store.put(b"\xe9" + bytes(1000))
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_leftovers_of_a_crash_are_swept_and_never_sit_at_a_content_address(tmp_path: Path) -> None:
    store = FirmwareStore(tmp_path)
    kept = store.put(b"\xe9" + bytes(100))
    leftover = kept.parent / ".partial-abc123"
    leftover.write_bytes(b"\xe9half")
    assert store.sweep_partials() == 1
    assert not leftover.exists()
    assert kept.exists()
