"""Firmware images and their assignments in the registry."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

import aiosqlite

from services.core.errors import Conflict, InvalidInput, NotFound
from services.core.models import Assignment, FirmwareImage, Station
from services.store.registry.database import Database

_HEX_PREFIX = re.compile(r"[0-9a-f]{6,64}")


@dataclass(frozen=True, slots=True)
class AssignedImages:
    """The assignments at once: each station's own (its oldest) and the tags' (oldest first), with their images."""

    own: dict[str, FirmwareImage]
    by_tag: tuple[tuple[str, FirmwareImage], ...]

    def for_station(self, mac: str, tags: Iterable[str]) -> tuple[FirmwareImage, bool] | None:
        """The image a station with these tags is given (its own assignment first, else its tags', oldest
        first), and whether its own assignment names it."""
        image = self.own.get(mac)
        if image is not None:
            return image, True
        carried = set(tags)
        for tag, image in self.by_tag:
            if tag in carried:
                return image, False
        return None

    def image_for(self, station: Station) -> FirmwareImage | None:
        """The image the station is given, if any."""
        found = self.for_station(station.mac, station.tags)
        return None if found is None else found[0]


class ImageTable:
    """Reads of the `images` and `assignments` tables."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def all(self) -> list[FirmwareImage]:
        """Return every image, newest import first."""
        rows = await self._db.fetch_all("SELECT * FROM images ORDER BY imported_at DESC")
        return [_image(r) for r in rows]

    async def get(self, sha256: str) -> FirmwareImage | None:
        """Return the image with exactly this digest, or None."""
        row = await self._db.fetch_one("SELECT * FROM images WHERE sha256 = ?", (sha256,))
        return None if row is None else _image(row)

    async def by_prefix(self, prefix: str) -> FirmwareImage:
        """Return the one image whose SHA-256 starts with `prefix` (6+ hex digits), else raise."""
        wanted = prefix.strip().lower()
        if not _HEX_PREFIX.fullmatch(wanted):
            raise InvalidInput(f"{prefix[:70]!r} is not a SHA-256 prefix (at least 6 hex digits)")
        rows = await self._db.fetch_all(
            "SELECT * FROM images WHERE sha256 >= ? AND sha256 < ? ORDER BY sha256 LIMIT 2",
            (wanted, wanted + "g"),
        )
        if not rows:
            raise NotFound(f"no image whose SHA-256 starts with {wanted}")
        if len(rows) > 1:
            raise InvalidInput(f"{wanted} matches more than one image; give more digits")
        return _image(rows[0])

    async def assignments(self) -> list[Assignment]:
        """Return every assignment."""
        rows = await self._db.fetch_all("SELECT * FROM assignments ORDER BY id")
        return [_assignment(r) for r in rows]

    async def assigned_images(self) -> AssignedImages:
        """Every assignment with its image, in one read: what each station is given, decided in memory."""
        rows = await self._db.fetch_all(
            "SELECT assignments.mac AS assigned_mac, assignments.tag AS assigned_tag, images.*"
            " FROM assignments JOIN images USING (sha256) ORDER BY assignments.id"
        )
        own: dict[str, FirmwareImage] = {}
        by_tag: list[tuple[str, FirmwareImage]] = []
        for row in rows:
            image = FirmwareImage(**{key: row[key] for key in row.keys() if not key.startswith("assigned_")})  # noqa: SIM118
            if row["assigned_mac"] is not None:
                own.setdefault(str(row["assigned_mac"]), image)  # the oldest of a station's own wins
            elif row["assigned_tag"] is not None:
                by_tag.append((str(row["assigned_tag"]), image))
        return AssignedImages(own, tuple(by_tag))

    async def assigned_for(self, station: Station) -> FirmwareImage | None:
        """Return the image a station should run: its own assignment first, else its tags' (oldest wins)."""
        return (await self.assigned_images()).image_for(station)


async def insert_image(conn: aiosqlite.Connection, image: FirmwareImage) -> bool:
    """Record an image; return False if that digest was already recorded."""
    cursor = await conn.execute(
        "INSERT INTO images (sha256, md5, size, chip, project, version, filename, imported_at,"
        " idf_version, build_date, app_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (sha256) DO NOTHING",
        (
            image.sha256,
            image.md5,
            image.size,
            image.chip,
            image.project,
            image.version,
            image.filename,
            image.imported_at,
            image.idf_version,
            image.build_date,
            image.app_sha256,
        ),
    )
    return cursor.rowcount == 1


async def delete_image(conn: aiosqlite.Connection, sha256: str) -> None:
    """Forget an image; refuse while an assignment uses it."""
    async with conn.execute("SELECT count(*) FROM assignments WHERE sha256 = ?", (sha256,)) as cursor:
        row = await cursor.fetchone()
    if row and row[0]:
        raise Conflict(f"image {sha256[:12]} is assigned ({row[0]} assignment(s)); unassign it first")
    async with conn.execute(
        "SELECT rollouts.id FROM rollouts LEFT JOIN rollout_stations ON rollout_id = rollouts.id"
        " WHERE rollouts.state IN ('running', 'paused', 'halted', 'rolling_back')"
        " AND (rollouts.sha256 = ? OR previous_sha256 = ?) LIMIT 1",
        (sha256, sha256),
    ) as cursor:
        row = await cursor.fetchone()
    if row is not None:
        raise Conflict(f"image {sha256[:12]} is used by rollout {row[0]}, which has not finished; cancel it first")
    cursor = await conn.execute("DELETE FROM images WHERE sha256 = ?", (sha256,))
    if cursor.rowcount == 0:
        raise NotFound(f"no image {sha256[:12]}")


async def assign(
    conn: aiosqlite.Connection, sha256: str, *, mac: str | None, tag: str | None, now: float
) -> Assignment:
    """Assign an image to one station or a tag, replacing what that target had."""
    column, value = ("mac", mac) if mac is not None else ("tag", tag)
    await conn.execute(f"DELETE FROM assignments WHERE {column} = ?", (value,))
    cursor = await conn.execute(
        "INSERT INTO assignments (sha256, mac, tag, created_at) VALUES (?, ?, ?, ?)", (sha256, mac, tag, now)
    )
    assert cursor.lastrowid is not None
    return Assignment(id=cursor.lastrowid, sha256=sha256, mac=mac, tag=tag, created_at=now)


async def unassign(conn: aiosqlite.Connection, assignment_id: int) -> None:
    """Remove an assignment by id."""
    cursor = await conn.execute("DELETE FROM assignments WHERE id = ?", (assignment_id,))
    if cursor.rowcount == 0:
        raise NotFound(f"no assignment {assignment_id}")


def _image(row: sqlite3.Row) -> FirmwareImage:
    return FirmwareImage(**{key: row[key] for key in row.keys()})  # noqa: SIM118 (Row is not a dict)


def _assignment(row: sqlite3.Row) -> Assignment:
    return Assignment(**{key: row[key] for key in row.keys()})  # noqa: SIM118
