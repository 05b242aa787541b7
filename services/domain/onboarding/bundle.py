"""A bench bundle: the files the admin copies off the Pi and flashes at his bench, and the command to do it.

The bundle holds the station's NVS image (its settings and token), optionally one image merged by
esptool's merge-bin (NVS, an erased otadata, then the app, from the NVS offset on), a manifest without
secrets, a flash script and a README. The admin API hands the files to the client, which writes them.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import time
from dataclasses import dataclass, field

from services.core.errors import InvalidInput
from services.core.models import FirmwareImage
from services.domain.onboarding.nvs import NAMESPACE, nvs_entries
from services.domain.onboarding.provisioning import Provisioned

BAUD = 460800  # every USB-serial bridge on ESP boards takes it; a merged image flashes in seconds, not minutes
PRIVATE = 0o600
SCRIPT = 0o700


@dataclass(frozen=True, slots=True)
class BundleFile:
    """One file of the bundle: where it goes in flash (if it is flashed) and its permission bits."""

    name: str
    data: bytes = field(repr=False)
    offset: int | None = None
    mode: int = PRIVATE

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the contents, for the manifest (and for checking a copy)."""
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True, slots=True)
class Bundle:
    """Everything a bench needs to flash one station."""

    files: tuple[BundleFile, ...]
    command: tuple[str, ...]  # the esptool command line, run in the bundle's directory
    flashed: BundleFile  # the file the command writes

    @property
    def command_line(self) -> str:
        """The command as one shell line."""
        return shlex.join(self.command)


def make_bundle(provisioned: Provisioned, firmware: FirmwareImage | None = None, app: bytes | None = None) -> Bundle:
    """Assemble the bundle of a provision (CPU-bound when merging: run it in a thread)."""
    record, layout = provisioned.provision, provisioned.layout
    stem = _file_stem(record.name)
    nvs = BundleFile(f"{stem}-nvs.bin", provisioned.nvs, layout.nvs_offset)
    flashed = nvs
    files = [nvs]
    if firmware is not None:
        if app is None:
            raise ValueError("a firmware image needs its bytes to be merged")
        if firmware.chip != record.chip:
            raise InvalidInput(f"the firmware is built for an {firmware.chip}, the station is an {record.chip}")
        from esptool.cmds import merge_bin  # esptool is not loaded with the service (15 MiB of a Pi Zero)

        merged = merge_bin(
            [(layout.nvs_offset, provisioned.nvs), (layout.app_offset, app)],
            chip=record.chip,
            output=None,
            target_offset=layout.nvs_offset,
        )
        assert isinstance(merged, bytes)
        flashed = BundleFile(f"{stem}-merged.bin", merged, layout.nvs_offset)
        files.append(flashed)
    command = (
        "esptool",
        "--chip",
        record.chip,
        "--baud",
        str(BAUD),
        "write-flash",
        f"{flashed.offset:#x}",
        flashed.name,
    )
    manifest = _manifest(provisioned, firmware, files, command)
    files += [
        BundleFile("bundle.json", (json.dumps(manifest, indent=2) + "\n").encode()),
        BundleFile("flash.sh", _script(record.name, command).encode(), mode=SCRIPT),
        BundleFile("README.txt", _readme(provisioned, firmware, flashed, command).encode()),
    ]
    return Bundle(tuple(files), command, flashed)


def _manifest(
    provisioned: Provisioned, firmware: FirmwareImage | None, files: list[BundleFile], command: tuple[str, ...]
) -> dict[str, object]:
    """What the bundle is, without a secret in it: the token and passphrases live in the NVS image only."""
    record, layout, settings = provisioned.provision, provisioned.layout, provisioned.settings
    return {
        "format": 1,
        "name": record.name,
        "chip": record.chip,
        "mac": record.mac,
        "created_at": record.created_at,
        "appliance": {"host": settings.host, "address": settings.address, "port": settings.port},
        "networks": [n.ssid for n in settings.networks],
        "nvs": {
            "file": files[0].name,
            "offset": layout.nvs_offset,
            "size": layout.nvs_size,
            "namespace": NAMESPACE,
            "keys": [e.key for e in nvs_entries(settings)],
        },
        "firmware": None
        if firmware is None
        else {
            "sha256": firmware.sha256,
            "project": firmware.project,
            "version": firmware.version,
            "offset": layout.app_offset,
            "size": firmware.size,
        },
        "files": [{"name": f.name, "offset": f.offset, "size": len(f.data), "sha256": f.sha256} for f in files],
        "esptool": list(command),
    }


def _script(name: str, command: tuple[str, ...]) -> str:
    rest = shlex.join(command[1:])
    return (
        "#!/bin/sh\n"
        f"# Flash {name}'s bench bundle. Plug the board in first; with more than one board plugged in, name its\n"
        "# port: PORT=/dev/ttyUSB0 ./flash.sh (esptool: pip install esptool)\n"
        "set -e\n"
        'cd "$(dirname "$0")"\n'
        f'exec esptool ${{PORT:+--port "$PORT"}} {rest}\n'
    )


def _readme(
    provisioned: Provisioned, firmware: FirmwareImage | None, flashed: BundleFile, command: tuple[str, ...]
) -> str:
    record, layout, settings = provisioned.provision, provisioned.layout, provisioned.settings
    made = time.strftime("%Y-%m-%d %H:%M", time.localtime(record.created_at))
    what = (
        f"its settings (NVS partition at {layout.nvs_offset:#x}, {layout.nvs_size:#x} bytes)"
        if firmware is None
        else f"its settings (NVS at {layout.nvs_offset:#x}), an erased otadata and firmware"
        f" {firmware.project or ''} {firmware.version or ''} at {layout.app_offset:#x}"
    )
    return (
        f"Bench bundle for {record.name} ({record.chip}), made {made} by Stationmaster.\n\n"
        f"{flashed.name} holds {what}.\n"
        f"It joins: {', '.join(n.ssid for n in settings.networks)}; it finds the appliance as {settings.host or '-'}"
        f" (else {settings.address}) on port {settings.port}.\n\n"
        "Flash it, from this directory, with the board plugged in:\n\n"
        f"    {shlex.join(command)}\n\n"
        "(add --port /dev/ttyUSB0, or COM3, after esptool when more than one board is plugged in; ./flash.sh\n"
        "does the same and takes PORT=...). The board must already carry a bootloader and a partition table\n"
        "whose NVS partition is where this bundle puts it (any arduino-esp32 sketch flashed once has them).\n\n"
        "Keep this directory private: the NVS image holds the station's token and the site's Wi-Fi passphrases.\n"
        "Once the station is plugged in at the site, it joins the Wi-Fi, finds the appliance and checks in:\n"
        f"the admin sees '{record.name} arrived'.\n"
    )


def _file_stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "station"
