"""A station's settings as an NVS partition image, in the documented `stationmaster` namespace.

The image is made by Espressif's own generator (esp-idf-nvs-partition-gen), so that what `nvs_flash` and
Arduino's `Preferences` read is exactly what ESP-IDF would have written. docs/station-contract.md documents
the keys; `nvs_entries` is their single definition.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Literal

from services.core.errors import InvalidInput
from services.core.models import SiteNetwork
from services.domain.onboarding.flashmap import DEFAULT_NVS_SIZE, MIN_NVS_SIZE, SECTOR

NAMESPACE = "stationmaster"
FORMAT_VERSION = 1
MAX_NETWORKS = 16
MAX_KEY_LENGTH = 15  # NVS keys and namespace names
MAX_STRING_BYTES = 3999  # NVS strings hold at most 4000 bytes with their terminating NUL

Encoding = Literal["u8", "u16", "string"]


@dataclass(frozen=True, slots=True)
class StationSettings:
    """What a new station is told before it ever reaches the appliance."""

    name: str
    token: str = field(repr=False)
    host: str  # the appliance's mDNS name, e.g. "stationmaster.local" ("" when it does not announce)
    address: str  # the appliance's IPv4 address, for when mDNS finds nothing
    port: int
    networks: tuple[SiteNetwork, ...]


@dataclass(frozen=True, slots=True)
class NvsEntry:
    """One key of the namespace, with the NVS type it is written as."""

    key: str
    encoding: Encoding
    value: str | int = field(repr=False)


def nvs_entries(settings: StationSettings) -> list[NvsEntry]:
    """The namespace's keys in the order they are written; the docs list exactly these."""
    if len(settings.networks) > MAX_NETWORKS:
        raise InvalidInput(
            f"a station can be given at most {MAX_NETWORKS} networks, the site has {len(settings.networks)}"
        )
    if not 0 < settings.port < 65536:
        raise InvalidInput(f"port {settings.port} is not a TCP port")
    entries = [
        NvsEntry("format", "u8", FORMAT_VERSION),
        NvsEntry("name", "string", settings.name),
        NvsEntry("token", "string", settings.token),
        NvsEntry("host", "string", settings.host),
        NvsEntry("addr", "string", settings.address),
        NvsEntry("port", "u16", settings.port),
        NvsEntry("wifi_n", "u8", len(settings.networks)),
    ]
    for index, network in enumerate(settings.networks):
        prefix = f"wifi{index}_"
        entries += [
            NvsEntry(prefix + "ssid", "string", network.ssid),
            NvsEntry(prefix + "psk", "string", network.psk),
            NvsEntry(prefix + "prio", "u8", network.priority),
            NvsEntry(prefix + "hide", "u8", int(network.hidden)),
            NvsEntry(prefix + "fb", "u8", int(network.fallback)),
        ]
    for entry in entries:
        _check(entry)
    return entries


def build_nvs_image(settings: StationSettings, size: int = DEFAULT_NVS_SIZE) -> bytes:
    """Return an NVS partition image of exactly `size` bytes holding `settings`; InvalidInput if it cannot."""
    if size % SECTOR or size < MIN_NVS_SIZE:
        # The generator itself exits the process with status 0 on such sizes: refuse them before it sees one.
        raise InvalidInput(
            f"an NVS partition is a whole number of 4 KiB pages, at least {MIN_NVS_SIZE:#x}; got {size:#x}"
        )
    # Imported here: the generator pulls in `cryptography` (for encrypted NVS), about 10 MiB that `serve`
    # would carry all its life for the few bundles an admin makes.
    from esp_idf_nvs_partition_gen import nvs_partition_gen as generator

    entries = nvs_entries(settings)
    out = io.BytesIO()
    try:
        # The generator keeps one page free for nvs_flash's garbage collection: it is given the rest to fill.
        image = generator.nvs_open(out, size - SECTOR, generator.Page.VERSION2)
        generator.write_entry(image, NAMESPACE, "namespace", "", None)
        for entry in entries:
            generator.write_entry(image, entry.key, "data", entry.encoding, str(entry.value))
        generator.nvs_close(image)
    except (generator.InsufficientSizeError, generator.PageFullError):
        raise InvalidInput(f"the settings do not fit an NVS partition of {size:#x} bytes; give it more room") from None
    except generator.InputError as exc:
        raise InvalidInput(f"the NVS generator refused the settings: {exc}") from None
    data = out.getvalue()
    if len(data) != size:
        # Never hand out a partition image of another size than asked: it would be flashed over its neighbours.
        raise InvalidInput(f"the NVS generator made {len(data):#x} bytes instead of {size:#x}")
    return data


def _check(entry: NvsEntry) -> None:
    if not 0 < len(entry.key) <= MAX_KEY_LENGTH or not entry.key.isascii():
        raise InvalidInput(f"NVS key {entry.key!r} must be 1-{MAX_KEY_LENGTH} ASCII characters")
    if entry.encoding == "string":
        text = str(entry.value)
        if "\0" in text or len(text.encode("utf-8")) > MAX_STRING_BYTES:
            raise InvalidInput(f"the value of {entry.key!r} must be at most {MAX_STRING_BYTES} bytes without NUL")
        return
    limit = 0xFF if entry.encoding == "u8" else 0xFFFF
    if not isinstance(entry.value, int) or not 0 <= entry.value <= limit:
        raise InvalidInput(f"the value of {entry.key!r} must be a whole number from 0 to {limit}")
