"""What `/ota` answers: the assigned image, or nothing and the reason, never an image for another chip."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from services.errors import Forbidden
from services.fleet.journal import EventLog, Journal
from services.models import FirmwareImage, Station
from services.registry import stations as station_rows
from services.rollouts.gates import critical_hold

OtaMode = Literal["sketch", "filesystem"]


@dataclass(frozen=True, slots=True)
class OtaRequest:
    """What a stock update client told us about itself."""

    mac: str
    client: str
    chip_hint: str | None = None
    version: str | None = None
    sketch_md5: str | None = None
    sketch_sha256: str | None = None
    free_space: int | None = None
    mode: OtaMode = "sketch"


class RolloutDecision(Protocol):
    """What a rollout answers for one poll of a station it holds."""

    @property
    def sha256(self) -> str | None:
        """The image to offer, or None for 304."""

    @property
    def note(self) -> str | None:
        """Why nothing is offered, for the admin."""


class RolloutGate(Protocol):
    """The staged rollouts (services.rollouts.engine): they, not the assignments, decide for the stations they hold."""

    async def offer(self, station: Station) -> RolloutDecision | None:
        """The rollout's decision, or None if no rollout holds the station."""

    async def polled(self, decision: RolloutDecision, sent: bool, note: str | None) -> None:
        """How the poll was answered in the end."""

    async def transfer_started(self, log: EventLog, mac: str, sha256: str) -> None:
        """A download of `sha256` to the station began (inside its transaction)."""

    async def transfer_finished(self, log: EventLog, mac: str, sha256: str, reached: float) -> None:
        """A download ended having sent the image up to fraction `reached` (inside its transaction)."""


class FirmwareOffers:
    """Decide, per poll, whether a station gets an image."""

    def __init__(
        self, journal: Journal, rollouts: RolloutGate | None = None, maintenance_window: str | None = None
    ) -> None:
        self._journal = journal
        self._registry = journal.registry
        self.rollouts = rollouts
        self._window = maintenance_window

    async def decide(self, request: OtaRequest) -> FirmwareImage | None:
        """Return the image to send, or None for 304; raise Forbidden for 403."""
        station = await self._registry.stations.get(request.mac)
        if station is None:
            await self._discover(request)
            return None
        if station.status in ("rejected", "retired"):
            raise Forbidden(f"this station is {station.status}")
        if request.mode == "filesystem":
            await self._note(station, "asked for a filesystem image; only app images are served")
            raise Forbidden("filesystem (spiffs) images are not served; ask for the sketch")
        decision = None
        if self.rollouts is not None and station.status == "accepted":
            decision = await self.rollouts.offer(station)
        image, note = await self._choose(station, request, decision)
        # A rollout tells its own holds (rollout_station events): the note is kept, not told twice.
        await self._note(station, note, tell=decision is None)
        if decision is not None and self.rollouts is not None:
            await self.rollouts.polled(decision, image is not None, note)
        return image

    async def _choose(
        self, station: Station, request: OtaRequest, decision: RolloutDecision | None
    ) -> tuple[FirmwareImage | None, str | None]:
        if station.status != "accepted":
            return None, "waiting for the admin to accept this station"
        if decision is not None:
            # A rollout holds the station: its decision replaces the assignments until it is over.
            if decision.sha256 is None:
                return None, decision.note
            image = await self._registry.images.get(decision.sha256)
            if image is None:
                return None, "the rollout's image is no longer in the library"
        else:
            assigned = await self._registry.images.assignment_for(station.mac)
            if assigned is None:
                return None, None
            image, own = assigned
            # Critical stations move only on the admin's word: their own assignment (or approval in a
            # rollout) is that; a tag's assignment is not, outside the maintenance window.
            now = self._journal.clock()
            hold = None if own else critical_hold(station.tags, approved=False, window=self._window, now=now)
            if hold is not None and not _already_runs(station, request, image):
                return None, f"{hold}: assign the image to the station itself, or roll it out and approve it"
        chip = station.chip or request.chip_hint
        if chip is None:
            return (
                None,
                f"image {image.version or image.sha256[:12]} waits: the station has not said its chip",
            )
        if chip != image.chip:
            return None, f"the assigned image is for {image.chip}, this station is {chip}: not offered"
        if _already_runs(station, request, image):
            return None, None
        free = request.free_space if request.free_space is not None else station.free_sketch_space
        if free is not None and image.size > free:
            return None, (
                f"the assigned image ({image.size:,} bytes) does not fit the {free:,} bytes"
                " of free space the station reports: not offered"
            )
        return image, None

    async def _discover(self, request: OtaRequest) -> None:
        async def op(log: EventLog) -> None:
            if await station_rows.insert_pending(log.conn, request.mac, log.now):
                if request.chip_hint is not None:
                    await log.conn.execute(
                        "UPDATE stations SET chip = ? WHERE mac = ?", (request.chip_hint, request.mac)
                    )
                await log(
                    "station_discovered",
                    request.mac,
                    f"new station {request.mac} polled for firmware ({request.client}) and is waiting to be accepted",
                    client=request.client,
                )

        await self._journal.write(op)

    async def _note(self, station: Station, note: str | None, *, tell: bool = True) -> None:
        # Polls repeat every few minutes: write only when the reason changes, to spare the SD card.
        if note == station.ota_note:
            return

        async def op(log: EventLog) -> None:
            await station_rows.set_ota_note(log.conn, station.mac, note)
            if note is not None and tell:
                await log("ota_held", station.mac, f"{station.name}: {note}")

        await self._journal.write(op)


def _already_runs(station: Station, request: OtaRequest, image: FirmwareImage) -> bool:
    if request.sketch_md5 is not None and request.sketch_md5.lower() == image.md5:
        return True
    if request.sketch_sha256 is not None and request.sketch_sha256.lower() == image.app_sha256:
        return True
    version = request.version or station.version
    if version is None or image.version is None or version != image.version:
        return False
    return station.project is None or image.project is None or station.project == image.project
