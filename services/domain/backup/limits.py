"""What an archive may hold, checked while it is read: a small file must not fill the Pi's memory or its card.

A gzipped tar can promise anything: a 1 GiB member that compresses to a megabyte, thousands of members, or
headers that tarfile reads whole into memory before any member is seen. Each limit is checked from a
member's header, before its bytes are read, held or written.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from typing import Any

from services.core.errors import InvalidInput

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

# A Stationmaster archive never has these (PAX headers only for names past 100 bytes, and ours are shorter):
# tarfile reads each one whole into memory, and a sparse map can grow without bound.
_EXTENDED = (
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
)
_MAX_EXTENDED_BYTES = 64 * KIB


class ArchiveError(InvalidInput):
    """The file is not a whole Stationmaster backup; the message says what is wrong."""

    code = "invalid_backup"


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """The most an archive may hold; `room` is what the disk being unpacked to can take."""

    max_members: int = 4096  # the manifest, the registry, the site id, the config files and the images
    max_manifest_bytes: int = 1 * MIB  # a manifest lists ~70 bytes an image
    max_registry_bytes: int = 1 * GIB  # a 1,000-station site's registry is about 100-250 MiB
    max_image_bytes: int = 16 * MIB  # as `[firmware] max_image_bytes`: what the library may hold
    max_config_bytes: int = 64 * KIB  # a TOML file, an SSH key, a known_hosts line
    max_total_bytes: int = 4 * GIB
    room: int | None = None  # free bytes on the unpacking disk, less a reserve (None: not checked)

    @property
    def max_upload_bytes(self) -> int:
        """The largest archive file worth receiving: gzip never grows what it packs by more than a little."""
        return self.max_total_bytes + self.max_total_bytes // 100 + MIB


class Budget:
    """What an archive has used of its limits so far, charged member by member before each is read."""

    def __init__(self, limits: ArchiveLimits) -> None:
        self.limits = limits
        self.members = 0
        self.total = 0

    def charge(self, member: tarfile.TarInfo, most: int, what: str) -> None:
        """Count `member` (at most `most` bytes, described as `what`) or refuse the archive before it is read."""
        limits = self.limits
        self.members += 1
        if self.members > limits.max_members:
            raise ArchiveError(f"the archive holds more than {limits.max_members:,} members; a backup never does")
        if member.size > most:
            raise ArchiveError(f"{what} in the archive is {member.size:,} bytes, more than the {most:,} allowed")
        self.total += member.size
        if self.total > limits.max_total_bytes:
            raise ArchiveError(f"the archive unpacks to more than the {limits.max_total_bytes:,} bytes allowed")
        if limits.room is not None and self.total > limits.room:
            raise ArchiveError(
                f"the archive unpacks to more than the {max(limits.room, 0):,} bytes of room on the appliance's disk"
            )


class BoundedTarInfo(tarfile.TarInfo):
    """A TarInfo that refuses, before tarfile reads them, the headers it would hold whole in memory.

    tarfile calls these private hooks for the extended (PAX, GNU long name) and sparse headers; they are
    the only ones that read a header's data before the member is handed over.
    """

    def _proc_member(self, tarfile_: Any) -> Any:
        if self.type in _EXTENDED:
            seen = getattr(tarfile_, "_stationmaster_extended", 0) + self.size
            tarfile_._stationmaster_extended = seen
            if seen > _MAX_EXTENDED_BYTES:
                raise ArchiveError(f"the archive's extended headers exceed {_MAX_EXTENDED_BYTES:,} bytes")
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise ArchiveError(f"the archive holds {self.name!r}, a sparse file, which a backup never has")
        return super()._proc_member(tarfile_)  # type: ignore[misc]

    def _proc_gnusparse_00(self, *args: Any) -> Any:
        raise ArchiveError("the archive holds a sparse file, which a backup never has")

    def _proc_gnusparse_01(self, *args: Any) -> Any:
        raise ArchiveError("the archive holds a sparse file, which a backup never has")

    def _proc_gnusparse_10(self, *args: Any) -> Any:
        raise ArchiveError("the archive holds a sparse file, which a backup never has")
