"""The firmware library: import (validate, store, record), list and delete images."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import PurePath

from services.core.errors import Conflict, InvalidImage, InvalidInput
from services.core.models import FirmwareImage, ImageInfo
from services.domain.firmware.image import inspect_image
from services.domain.firmware.store import FirmwareStore
from services.store.journal import EventLog, Journal
from services.store.registry.images import delete_image, insert_image


class FirmwareLibrary:
    """Images the appliance can hand out: validated with esptool, stored by content, recorded."""

    def __init__(self, journal: Journal, store: FirmwareStore, max_image_bytes: int) -> None:
        self._journal = journal
        self._registry = journal.registry
        self.store = store
        self._max = max_image_bytes
        # One import at a time: another import of the same bytes must not see a file this one may take back.
        self._importing = asyncio.Lock()

    async def import_image(
        self, data: bytes, filename: str, *, project: str | None = None, version: str | None = None
    ) -> tuple[FirmwareImage, bool]:
        """Validate and store an image; return it and whether it is new. Refusals say exactly why.

        `project` and `version` name an image that has no app description (ESP8266); for one that has,
        they must agree with it.
        """
        name = _clean_filename(filename)
        project, version = _label(project, "project"), _label(version, "version")
        if len(data) > self._max:
            raise InvalidImage(f"{name}: {len(data):,} bytes is more than the {self._max:,} allowed")
        # esptool parsing and hashing are CPU-bound and the store fsyncs: keep both off the event loop.
        try:
            info = await asyncio.to_thread(inspect_image, data)
        except InvalidImage as exc:
            raise InvalidImage(f"{name}: {exc.message}") from None
        for field, given, found in (("project", project, info.project), ("version", version, info.version)):
            if given is not None and found is not None and given != found:
                raise InvalidImage(f"{name}: the image says its {field} is {found!r}, not {given!r}")
        async with self._importing:
            return await self._store_and_record(data, info, name, project, version)

    async def _store_and_record(
        self, data: bytes, info: ImageInfo, name: str, project: str | None, version: str | None
    ) -> tuple[FirmwareImage, bool]:
        was_stored = await asyncio.to_thread(self.store.has, info.sha256)
        await asyncio.to_thread(self.store.put, data)
        image = FirmwareImage(
            sha256=info.sha256,
            md5=info.md5,
            size=info.size,
            chip=info.chip,
            project=info.project or project,
            version=info.version or version,
            filename=name,
            imported_at=self._journal.clock(),
            idf_version=info.idf_version,
            build_date=info.build_date,
            app_sha256=info.app_sha256,
        )

        async def op(log: EventLog) -> bool:
            new = await insert_image(log.conn, image)
            if new:
                what = " ".join(str(v) for v in (image.project, image.version) if v) or name
                await log(
                    "image_imported",
                    None,
                    f"imported {what} for {image.chip} ({image.size:,} bytes)",
                    sha256=image.sha256,
                )
            return new

        try:
            new = await self._journal.write(op)
        except BaseException:
            # Not recorded (the registry's disk filled up, say): a file nobody can see or delete must not stay.
            if not was_stored:
                await asyncio.to_thread(self.store.remove, image.sha256)
            raise
        stored = await self._registry.images.get(image.sha256)
        assert stored is not None
        return stored, new

    async def store_bytes(self, sha256: str) -> bytes:
        """Read a stored image, checked against its digest."""
        data = await asyncio.to_thread(self.store.path_for(sha256).read_bytes)
        if hashlib.sha256(data).hexdigest() != sha256:
            raise Conflict(f"the stored image {sha256[:12]} no longer matches its digest; import it again")
        return data

    async def delete(self, prefix: str) -> FirmwareImage:
        """Delete an image that no assignment uses, from the registry and then the store."""
        image = await self._registry.images.by_prefix(prefix)

        async def op(log: EventLog) -> None:
            await delete_image(log.conn, image.sha256)
            await log("image_deleted", None, f"deleted image {image.sha256[:12]}", sha256=image.sha256)

        await self._journal.write(op)
        await asyncio.to_thread(self.store.remove, image.sha256)
        return image


def _label(value: str | None, what: str) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > 31 or not value.isprintable():
        raise InvalidInput(f"the {what} must be at most 31 printable characters")
    return value


def _clean_filename(filename: str) -> str:
    name = PurePath(filename.replace("\\", "/")).name.strip()
    if not name:
        return "image.bin"
    # isprintable() refuses control characters and the lone surrogates a non-UTF-8 header decodes to.
    if len(name) > 128 or not name.isprintable():
        raise InvalidInput("the file name must be at most 128 printable characters")
    return name
