"""The transfer log of downloads to stations: a record when one begins, what the station got when it ends.

Stations that begin (or end) at the same moment, as a fleet does when an update is assigned, share one
operation of the writer (services.store.grouped): fifty start records are four statements, not 150.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from appliance.contract.events import EventKind
from services.core.models import FirmwareImage
from services.domain.fleet import FirmwareOffers, Journal
from services.store.grouped import GroupedWrites
from services.store.journal import EventLog
from services.store.registry.history import TransferEnd, TransferStart, finish_transfers, start_transfers


@dataclass(frozen=True, slots=True)
class DownloadEnd:
    """How a logged download ended: the bytes from `first` that the station acknowledged of `wanted`."""

    transfer_id: int
    mac: str
    image: FirmwareImage
    first: int
    sent: int
    wanted: int

    @property
    def reached(self) -> int:
        """The offset in the image the station has up to."""
        return self.first + self.sent

    def told(self) -> tuple[EventKind, str]:
        """The event's kind and message for the admin."""
        image = self.image
        what = " ".join(str(v) for v in (image.project, image.version) if v) or image.sha256[:12]
        if self.sent == self.wanted and self.first + self.wanted == image.size:
            return "download_finished", f"{self.mac} downloaded {what} ({image.size:,} bytes)"
        if self.sent == self.wanted:
            return "download_part", f"{self.mac} downloaded bytes {self.first:,}-{self.reached - 1:,} of {what}"
        percent = 100 * self.reached // max(image.size, 1)
        return "download_interrupted", f"{self.mac} stopped downloading {what} at {percent} %"


class DownloadLog:
    """Record downloads' starts (each gets its transfer id) and ends, with the rollouts told of both."""

    def __init__(self, journal: Journal, offers: FirmwareOffers) -> None:
        self._offers = offers
        self._starts: GroupedWrites[TransferStart, int] = GroupedWrites(journal, self._begin)
        self._ends: GroupedWrites[DownloadEnd, None] = GroupedWrites(journal, self._end)

    async def started(self, mac: str, image: FirmwareImage, first: int, last: int) -> int:
        """Record that bytes first..last (inclusive) of `image` are going to `mac`; the transfer id, committed."""
        return await self._starts.write(TransferStart(mac, image.sha256, first, last))

    async def ended(self, end: DownloadEnd) -> None:
        """Record how a download ended, once committed."""
        await self._ends.write(end)

    async def _begin(self, entry: EventLog, starts: Sequence[TransferStart]) -> list[int]:
        ids = await start_transfers(entry.conn, starts, entry.now)
        rollouts = self._offers.rollouts
        if rollouts is not None:
            for start in starts:
                await rollouts.transfer_started(entry, start.mac, start.sha256)
        return ids

    async def _end(self, entry: EventLog, ends: Sequence[DownloadEnd]) -> list[None]:
        await finish_transfers(
            entry.conn, [TransferEnd(end.transfer_id, end.sent, end.sent == end.wanted) for end in ends], entry.now
        )
        rollouts = self._offers.rollouts
        for end in ends:
            kind, message = end.told()
            image = end.image
            await entry(kind, end.mac, message, sha256=image.sha256, first=end.first, bytes=end.sent, size=image.size)
            if rollouts is not None:
                await rollouts.transfer_finished(entry, end.mac, image.sha256, end.reached / max(image.size, 1))
        return [None] * len(ends)
