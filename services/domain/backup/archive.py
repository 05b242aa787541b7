"""The backup archive: a gzipped tar with a manifest, the registry snapshot, the firmware and the config."""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from services.domain.backup import configfiles
from services.domain.backup.limits import ArchiveError, ArchiveLimits, BoundedTarInfo, Budget

FORMAT = "stationmaster-backup/1"
TOP = "stationmaster-backup"
MANIFEST = f"{TOP}/manifest.json"
REGISTRY = f"{TOP}/registry.sqlite3"
SITE_ID = f"{TOP}/site-id"
_FIRMWARE = re.compile(rf"{TOP}/firmware/([0-9a-f]{{64}})")
CONFIG_PREFIX = f"{TOP}/config/"
_CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class Manifest:
    """What an archive holds, written first so a reader knows what to expect."""

    created_at: float
    version: str
    site_id: str | None
    registry_version: int
    registry_sha256: str
    secrets: bool
    stations: int
    images: tuple[str, ...]
    config: tuple[str, ...]
    left_out: dict[str, int] = field(default_factory=dict)
    format: str = FORMAT

    def to_json(self) -> bytes:
        """The manifest file's bytes."""
        body = asdict(self)
        body["images"] = list(self.images)
        body["config"] = list(self.config)
        return json.dumps(body, indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        """Parse a manifest; refuse another format or a damaged one."""
        try:
            body = json.loads(raw)
            if body.get("format") != FORMAT:
                raise ArchiveError(f"this is a {body.get('format')!r} archive; this Stationmaster reads {FORMAT}")
            return cls(
                created_at=float(body["created_at"]),
                version=str(body["version"]),
                site_id=None if body.get("site_id") is None else str(body["site_id"]),
                registry_version=int(body["registry_version"]),
                registry_sha256=str(body["registry_sha256"]),
                secrets=bool(body["secrets"]),
                stations=int(body["stations"]),
                images=tuple(str(sha) for sha in body["images"]),
                config=tuple(str(name) for name in body["config"]),
                left_out={str(k): int(v) for k, v in dict(body.get("left_out") or {}).items()},
            )
        except ArchiveError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ArchiveError(f"the archive's manifest is damaged ({exc})") from None


def write_archive(
    sink: IO[bytes],
    manifest: Manifest,
    registry: Path,
    firmware: dict[str, Path],
    config: dict[str, Path],
    site_id: str | None,
) -> None:
    """Write the whole archive to `sink` as a stream (nothing is staged on disk: the SD card is spared)."""
    with tarfile.open(fileobj=sink, mode="w|gz", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, MANIFEST, manifest.to_json(), manifest.created_at)
        _add_file(tar, REGISTRY, registry, manifest.created_at)
        if site_id:
            _add_bytes(tar, SITE_ID, site_id.encode() + b"\n", manifest.created_at)
        for sha256, path in firmware.items():
            _add_file(tar, f"{TOP}/firmware/{sha256}", path, manifest.created_at)
        for name, path in config.items():
            _add_file(tar, f"{TOP}/config/{name}", path, manifest.created_at)


@dataclass(slots=True)
class Unpacked:
    """What reading an archive found: the manifest, where the registry went, and the other members."""

    manifest: Manifest
    registry: Path
    firmware: dict[str, Path] = field(default_factory=dict)
    config: dict[str, bytes] = field(default_factory=dict)
    site_id: str | None = None


def unpack(archive: Path, into: Path, limits: ArchiveLimits) -> Unpacked:
    """Read and check every member into the directory `into`; raise ArchiveError on anything unexpected.

    Each member is checked against `limits` and the manifest from its header, before its bytes are read.
    """
    manifest: Manifest | None = None
    found = Unpacked(manifest=None, registry=into / "registry.sqlite3")  # type: ignore[arg-type]
    budget = Budget(limits)
    seen: set[str] = set()
    try:
        with tarfile.open(archive, mode="r|gz", tarinfo=BoundedTarInfo) as tar:
            for member in tar:
                if member.isdir():
                    continue
                name = member.name
                if not member.isfile():
                    raise ArchiveError(f"the archive holds {name!r}, which is not a plain file")
                if name in seen:
                    raise ArchiveError(f"the archive holds {name!r} twice")
                seen.add(name)
                if manifest is None:
                    if name != MANIFEST:
                        raise ArchiveError("this is not a Stationmaster backup (it does not start with its manifest)")
                    budget.charge(member, limits.max_manifest_bytes, "the manifest")
                    manifest = Manifest.from_json(_read(tar, member))
                    _check_manifest(manifest, limits)
                elif name == REGISTRY:
                    budget.charge(member, limits.max_registry_bytes, "the registry")
                    if _copy(_source(tar, member), found.registry) != manifest.registry_sha256:
                        raise ArchiveError("the registry in the archive does not match its manifest (damaged)")
                elif name == SITE_ID:
                    budget.charge(member, 256, "the site id")
                    found.site_id = _read(tar, member).decode("ascii", "replace").strip() or None
                elif match := _FIRMWARE.fullmatch(name):
                    sha256 = match.group(1)
                    if sha256 not in manifest.images:
                        raise ArchiveError(f"the archive holds firmware {sha256[:12]} its manifest does not list")
                    budget.charge(member, limits.max_image_bytes, f"firmware {sha256[:12]}")
                    path = into / "firmware" / sha256
                    path.parent.mkdir(exist_ok=True)
                    if _copy(_source(tar, member), path) != sha256:
                        raise ArchiveError(f"firmware {sha256[:12]} in the archive is damaged (its SHA-256 differs)")
                    found.firmware[sha256] = path
                elif name.startswith(CONFIG_PREFIX) and name.removeprefix(CONFIG_PREFIX) in manifest.config:
                    budget.charge(
                        member, limits.max_config_bytes, f"the config file {name.removeprefix(CONFIG_PREFIX)}"
                    )
                    found.config[name.removeprefix(CONFIG_PREFIX)] = _read(tar, member)
                else:
                    raise ArchiveError(f"the archive holds {name!r}, which a Stationmaster backup never has")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ArchiveError(f"the archive cannot be read: it is damaged or cut short ({exc})") from None
    if manifest is None:
        raise ArchiveError("the archive is empty")
    if not found.registry.is_file():
        raise ArchiveError("the archive has no registry")
    missing = [sha[:12] for sha in manifest.images if sha not in found.firmware]
    if missing:
        raise ArchiveError(f"the archive lacks the firmware its manifest lists: {', '.join(missing)}")
    found.manifest = manifest
    return found


def _check_manifest(manifest: Manifest, limits: ArchiveLimits) -> None:
    """Refuse a manifest that promises more than a backup holds, or a config file it never carries."""
    if len(manifest.images) + len(manifest.config) + 3 > limits.max_members:
        raise ArchiveError(f"the archive's manifest lists more than {limits.max_members:,} members")
    strange = [name for name in manifest.config if name not in configfiles.KNOWN]
    if strange:
        raise ArchiveError(
            f"the archive's manifest names config files a backup never carries: {', '.join(map(repr, strange))}"
            f" (only {', '.join(configfiles.KNOWN)})"
        )


def archive_name(host: str, at: float | None = None) -> str:
    """A file name that says which site and when: stationmaster-<the machine's host name>-<UTC time>.tar.gz."""
    # The Pi's own name (`broome`), as the admin knows it from SSH; anything unsafe in a file name goes.
    label = re.sub(r"[^A-Za-z0-9-]+", "-", host.split(".")[0]).strip("-") or "site"
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(at))
    return f"stationmaster-{label}-{stamp}.tar.gz"


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of a file's bytes."""
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(mtime), 0o600
    tar.addfile(info, io.BytesIO(data))


def _add_file(tar: tarfile.TarFile, name: str, path: Path, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = path.stat().st_size, int(mtime), 0o600
    with path.open("rb") as file:
        tar.addfile(info, file)


def _source(tar: tarfile.TarFile, member: tarfile.TarInfo) -> IO[bytes]:
    source = tar.extractfile(member)
    assert source is not None  # a plain file always has its data
    return source


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    """A small member's bytes (its size already charged against the limits)."""
    return _source(tar, member).read(member.size)


def _copy(source: IO[bytes], target: Path) -> str:
    digest = hashlib.sha256()
    with target.open("wb") as out:
        for chunk in _chunks(source):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _chunks(source: IO[bytes]) -> Iterator[bytes]:
    while chunk := source.read(_CHUNK):
        yield chunk


def manifest_dict(manifest: Manifest) -> dict[str, Any]:
    """The manifest as the admin API shows it."""
    body: dict[str, Any] = json.loads(manifest.to_json())
    return body
