"""Bench bundles from the command line: private files, a merged image with each part at its offset, and the
printed esptool command writing and verifying it on esp32-mock-bootloader (the ROM bootloader simulator)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import stat
import sys
from pathlib import Path

import pytest
from esptool.bin_image import LoadFirmwareImage

from appliance.contract.client import AdminClient, AdminError
from services.domain.onboarding.nvs import NAMESPACE
from services.root.service import StationmasterService
from tests.imagefactory import build_image
from tests.nvsformat import read_partition
from tests.onboarding.cli import Ran, stationmaster

PSK = "broome-secret-1"
MOCK = Path(sys.executable).with_name("esp32-mock-bootloader")


@pytest.fixture
async def site(service: StationmasterService, admin: AdminClient) -> Path:
    """A service whose site has one network; yields its admin socket."""
    await admin.add_wifi("AP1", PSK, priority=10)
    return service.settings.admin_socket


def printed_command(ran: Ran) -> list[str]:
    """The esptool command line the CLI printed."""
    lines = [line.strip() for line in ran.stdout.splitlines() if line.strip().startswith("esptool ")]
    assert len(lines) == 1, ran.stdout
    return shlex.split(lines[0])


async def flash_with_mock(command: list[str], chip: str, cwd: Path, *, pty: bool = False) -> tuple[str, str, int]:
    """Run the printed command against a mock ROM bootloader, then have esptool check what the mock's flash holds.

    Returns (the command's output, the check's output, the offset written). An ESP32 is read back byte by
    byte with the ROM's slow read; other chips' ROMs lack it on the mock, so esptool compares digests.
    """
    port_file = cwd.parent / f"mock-{chip}.port"
    args = ["run", "--chip", chip, *(("--pty", "--port-file", str(port_file)) if pty else ("--port", "0"))]
    mock = await asyncio.create_subprocess_exec(
        str(MOCK), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        assert mock.stdout is not None
        ready = (await asyncio.wait_for(mock.stdout.readline(), 20)).decode()
        if pty:
            port = ready.rsplit(" ", 1)[-1].strip()
        else:
            found = re.search(r"listening on ([\d.]+):(\d+)", ready)
            assert found, ready
            port = f"socket://{found.group(1)}:{found.group(2)}"
        assert command[0] == "esptool"
        # The very command the admin was given, with the port his bench would name.
        flashed = await _run([sys.executable, "-m", "esptool", "--port", port, *command[1:]], cwd)
        offset, name = int(command[-2], 0), command[-1]
        esptool = [sys.executable, "-m", "esptool", "--chip", chip, "--port", port]
        if chip == "esp32":
            size = (cwd / name).stat().st_size
            back = cwd.parent / f"read-back-{chip}.bin"
            await _run([*esptool, "--no-stub", "read-flash", hex(offset), hex(size), str(back)], cwd)
            checked = "identical" if back.read_bytes() == (cwd / name).read_bytes() else "different"
        else:
            checked = await _run([*esptool, "verify-flash", hex(offset), name], cwd)
        return flashed, checked, offset
    finally:
        mock.terminate()
        await mock.wait()


async def _run(argv: list[str], cwd: Path) -> str:
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    text = out.decode()
    assert process.returncode == 0, text
    return text


def mode(path: Path) -> int:
    """The permission bits of a path."""
    return stat.S_IMODE(os.stat(path).st_mode)


async def test_a_merged_bundle_holds_each_part_at_its_offset_and_flashes_as_printed(
    site: Path, admin: AdminClient, tmp_path: Path
) -> None:
    app = build_image("esp32", project="weather", version="1.4.0", payload_size=48 * 1024)
    image = await admin.import_image(app, "weather-1.4.0.bin")
    out = tmp_path / "bench" / "STA2"
    ran = await stationmaster(
        site,
        "onboard",
        "bundle",
        "--name",
        "STA2",
        "--chip",
        "esp32",
        "--firmware",
        image["sha256"][:10],
        "--out",
        str(out),
    )
    assert ran.code == 0, ran.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "README.txt",
        "STA2-merged.bin",
        "STA2-nvs.bin",
        "bundle.json",
        "flash.sh",
    ]
    nvs, merged = (out / "STA2-nvs.bin").read_bytes(), (out / "STA2-merged.bin").read_bytes()
    # merge-bin from the NVS offset: NVS at 0x9000, erased otadata up to 0x10000, then the app.
    assert len(merged) == 0x10000 - 0x9000 + len(app)
    assert merged[: len(nvs)] == nvs
    assert merged[len(nvs) : 0x10000 - 0x9000] == b"\xff" * (0x10000 - 0x9000 - len(nvs))
    assert merged[0x10000 - 0x9000 :] == app
    parsed = LoadFirmwareImage("esp32", merged[0x10000 - 0x9000 :])
    assert parsed.checksum == parsed.calculate_checksum()
    manifest = json.loads((out / "bundle.json").read_text())
    assert manifest["firmware"]["version"] == "1.4.0"
    assert [(f["name"], f["offset"]) for f in manifest["files"]] == [
        ("STA2-nvs.bin", 0x9000),
        ("STA2-merged.bin", 0x9000),
    ]

    command = printed_command(ran)
    assert command == ["esptool", "--chip", "esp32", "--baud", "460800", "write-flash", "0x9000", "STA2-merged.bin"]
    assert manifest["esptool"] == command
    output, checked, offset = await flash_with_mock(command, "esp32", out)
    assert "Hash of data verified" in output
    assert (offset, checked) == (0x9000, "identical"), "the mock's flash holds the merged image, byte for byte"


async def test_an_nvs_only_bundle_flashes_over_a_pseudo_terminal(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "STA3"
    ran = await stationmaster(site, "onboard", "bundle", "--name", "STA3", "--chip", "esp32c3", "--out", str(out))
    assert ran.code == 0, ran.stderr
    command = printed_command(ran)
    assert command[-2:] == ["0x9000", "STA3-nvs.bin"]
    output, checked, offset = await flash_with_mock(command, "esp32c3", out, pty=True)
    assert "Hash of data verified" in output
    assert offset == 0x9000
    assert "Verification successful (digest matched)" in checked
    assert read_partition((out / "STA3-nvs.bin").read_bytes())[NAMESPACE]["name"].value == "STA3"


async def test_the_bundle_is_private_and_no_secret_is_printed(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "STA2"
    ran = await stationmaster(site, "onboard", "bundle", "--name", "STA2", "--chip", "esp32", "--out", str(out))
    as_json = await stationmaster(
        site, "onboard", "bundle", "--name", "STA4", "--chip", "esp32", "--out", str(tmp_path / "STA4"), "--json"
    )
    assert ran.code == 0, ran.stderr
    assert as_json.code == 0, as_json.stderr
    token = read_partition((out / "STA2-nvs.bin").read_bytes())[NAMESPACE]["token"].value
    assert isinstance(token, str)
    assert len(token) >= 32
    assert mode(out) == 0o700
    assert {p.name: mode(p) for p in out.iterdir()} == {
        "STA2-nvs.bin": 0o600,
        "bundle.json": 0o600,
        "README.txt": 0o600,
        "flash.sh": 0o700,
    }
    token4 = read_partition((tmp_path / "STA4" / "STA4-nvs.bin").read_bytes())[NAMESPACE]["token"].value
    for text in (
        ran.stdout,
        ran.stderr,
        as_json.stdout,
        (out / "bundle.json").read_text(),
        (out / "README.txt").read_text(),
    ):
        assert token not in text
        assert str(token4) not in text
        assert PSK not in text
    assert json.loads(as_json.stdout)["command_line"].endswith("write-flash 0x9000 STA4-nvs.bin")
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")], "no staging directory left behind"


async def test_a_refused_bundle_writes_nothing_and_records_nothing(
    site: Path, admin: AdminClient, tmp_path: Path
) -> None:
    tmp_path = tmp_path / "bench"
    taken = tmp_path / "taken"
    taken.mkdir(parents=True)
    (taken / "old-bundle.bin").write_bytes(b"keep me")
    refusals = [
        (["--name", "STA2", "--chip", "esp32", "--out", str(taken)], 2, "not an empty directory"),
        (["--name", "STA2", "--chip", "esp8266", "--out", str(tmp_path / "a")], 1, "ESP8266 firmware has no NVS"),
        (["--name", "STA2", "--chip", "z80", "--out", str(tmp_path / "b")], 1, "unknown chip"),
        (["--name", "STA2", "--chip", "esp32", "--firmware", "abcdef", "--out", str(tmp_path / "c")], 1, "no image"),
        (["--name", "STA2", "--chip", "esp32", "--nvs-size", "0x2000", "--out", str(tmp_path / "d")], 1, "nvs_size"),
    ]
    c3 = await admin.import_image(build_image("esp32c3", version="2.0.0"), "c3.bin")
    refusals.append(
        (
            ["--name", "STA2", "--chip", "esp32", "--firmware", c3["sha256"][:8], "--out", str(tmp_path / "e")],
            1,
            "built for an esp32c3",
        )
    )
    for args, code, message in refusals:
        ran = await stationmaster(site, "onboard", "bundle", *args)
        assert (ran.code, message in ran.stderr) == (code, True), (args, ran.stderr)
    assert (taken / "old-bundle.bin").read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    assert (await admin.provisions())["awaiting"] == []
    assert await admin.stations() == []


async def test_onboard_lists_cancels_and_replaces(site: Path, admin: AdminClient, tmp_path: Path) -> None:
    first = await stationmaster(
        site, "onboard", "bundle", "--name", "STA2", "--chip", "esp32", "--out", str(tmp_path / "1")
    )
    again = await stationmaster(
        site, "onboard", "bundle", "--name", "STA2", "--chip", "esp32", "--out", str(tmp_path / "2")
    )
    assert (first.code, again.code) == (0, 1)
    assert "already awaiting" in again.stderr
    replaced = await stationmaster(
        site, "onboard", "bundle", "--name", "STA2", "--chip", "esp32", "--out", str(tmp_path / "3"), "--replace"
    )
    assert replaced.code == 0, replaced.stderr
    listed = await stationmaster(site, "onboard", "list")
    assert re.search(r"STA2\s+esp32\s+-\s+bundle", listed.stdout), listed.stdout
    assert "cancelled" in listed.stdout
    cancelled = await stationmaster(site, "onboard", "cancel", "STA2", "--json")
    assert cancelled.code == 0, cancelled.stderr
    answer = json.loads(cancelled.stdout)  # the bundle as it is now, not as it was before
    assert (answer["name"], answer["state"], answer["cancelled_at"] is not None) == ("STA2", "cancelled", True)
    assert (await admin.provisions())["awaiting"] == []
    with pytest.raises(AdminError, match="no station called"):
        await admin.cancel_bundle("STA2")
