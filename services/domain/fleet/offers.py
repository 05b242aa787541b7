"""What `/ota` answers: the assigned image, or nothing and the reason, never an image for another chip."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from appliance.contract.events import AlertKind
from services.core.errors import Forbidden
from services.core.models import CheckIn, FirmwareImage, Station
from services.core.rollout_model import RolloutDecision
from services.domain.fleet.sketches import SketchRecognizer
from services.domain.health.alerts import clear_alert, raise_alert
from services.domain.rollouts.gates import critical_hold
from services.store.journal import EventLog, Journal
from services.store.registry import stations as station_rows
from services.store.registry.batched import BatchedCache
from services.store.registry.database import ALL, site_wide
from services.store.registry.health import open_alerts_for
from services.store.registry.images import AssignedImages

_NOT_TAKING: AlertKind = "update_not_taking"
# Downloaded in full this many times and still not running it: the update does not take.
_DOWNLOADS_THAT_DID_NOT_TAKE = 2

# "version": ESP8266httpUpdate's getAvailableVersion() asks what would be offered, without the image.
OtaMode = Literal["sketch", "filesystem", "version"]


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
    sketch_size: int | None = None
    chip_size: int | None = None
    sdk_version: str | None = None
    ip: str | None = None  # where the poll came from: on the site's LAN, the station's own address
    family: str | None = None  # "esp8266" or "esp32", from the client's header names; None for esp_https_ota


class RolloutGate(Protocol):
    """The staged rollouts (domain.rollouts.engine): they, not the assignments, decide for the stations they hold."""

    async def offer(self, station: Station) -> RolloutDecision | None:
        """The rollout's decision, or None if no rollout holds the station."""

    async def polled(self, decision: RolloutDecision, sent: bool, note: str | None) -> None:
        """How the poll was answered in the end."""

    async def transfer_started(self, log: EventLog, mac: str, sha256: str) -> None:
        """A download of `sha256` to the station began (inside its transaction)."""

    async def transfer_finished(self, log: EventLog, mac: str, sha256: str, reached: float) -> None:
        """A download ended having sent the image up to fraction `reached` (inside its transaction)."""


class PollRecorder(Protocol):
    """Where a poll is recorded as a sign of life (services.domain.fleet.reports.StationReports)."""

    async def polled(self, report: CheckIn) -> None:
        """Record what the station's update client said of it."""


class FirmwareOffers:
    """Decide, per poll, whether a station gets an image."""

    def __init__(
        self,
        journal: Journal,
        rollouts: RolloutGate | None = None,
        maintenance_window: str | None = None,
        *,
        reports: PollRecorder | None = None,
        sketches: SketchRecognizer | None = None,
    ) -> None:
        self._journal = journal
        self._registry = journal.registry
        self.rollouts = rollouts
        self._window = maintenance_window
        self._reports = reports
        self._sketches = sketches
        # Every assignment, read once and kept until an assignment or image changes (a site-wide change): each
        # station's choice is then made in memory from its tags, which its view keeps.
        self._assigned: BatchedCache[str, AssignedImages] = BatchedCache(
            self._read_assigned, at_once=1, name="assignments"
        )
        journal.registry.views.follow(self._forget_assignments)

    async def decide(self, request: OtaRequest) -> FirmwareImage | None:
        """Return the image to send, or None for 304; raise Forbidden for 403."""
        known = await self._registry.views.station(request.mac)
        if known is None or known.status not in ("rejected", "retired"):
            # Every poll is a sign of life and says what the station runs: recorded before deciding.
            await self._record(request, known)
        station = await self._registry.views.station(request.mac)
        if known is None or station is None:
            return None  # just discovered: it waits to be accepted
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

    async def _record(self, request: OtaRequest, station: Station | None) -> None:
        running = await self._running(request, station)
        report = CheckIn(
            mac=request.mac,
            chip=running.chip if running is not None else request.chip_hint,
            project=running.project if running is not None else None,
            version=request.version or (running.version if running is not None else None),
            ip=request.ip,
            free_sketch_space=request.free_space,
            sketch_size=request.sketch_size,
            sketch_md5=request.sketch_md5,
            sketch_sha256=request.sketch_sha256,
            chip_size=request.chip_size,
            sdk_version=request.sdk_version,
            ota_client=request.client,
        )
        if self._reports is not None:
            await self._reports.polled(report)
        elif station is None:
            await self._journal.write(lambda log: station_rows.insert_pending(log.conn, request.mac, log.now))

    async def _running(self, request: OtaRequest, station: Station | None) -> FirmwareImage | None:
        """The library image the station's reported sketch digests name, when that tells something new."""
        if self._sketches is None or (request.sketch_md5 is None and request.sketch_sha256 is None):
            return None
        if (
            station is not None
            and station.chip is not None
            and (request.version is not None or station.version is not None)
            and (station.sketch_md5, station.sketch_sha256) == (request.sketch_md5, request.sketch_sha256)
        ):
            return None  # the same sketch as last time, already told
        return await self._sketches.recognise(
            md5=request.sketch_md5, sha256=request.sketch_sha256, sketch_size=request.sketch_size, family=request.family
        )

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
            assigned = await self._assignment_for(station)
            if assigned is None:
                return None, None
            image, own = assigned
            # Critical stations move only on the admin's word: their own assignment (or approval in a
            # rollout) is that; a tag's assignment is not, outside the maintenance window.
            now = self._journal.clock()
            hold = None if own else critical_hold(station.tags, approved=False, window=self._window, now=now)
            if hold is not None and not await self._already_runs(station, request, image):
                return None, f"{hold}: assign the image to the station itself, or roll it out and approve it"
        chip = station.chip or request.chip_hint
        if chip is None:
            return None, (
                f"{_label(image)} waits: this station has not said which ESP32 chip it is;"
                f" set it with `stationmaster stations set-chip {station.mac} {image.chip}`"
                " (or assign the image to the station itself)"
            )
        if chip != image.chip:
            return None, f"the assigned image is for {image.chip}, this station is {chip}: not offered"
        if await self._already_runs(station, request, image):
            await self._took(station, image)
            return None, None
        free = request.free_space if request.free_space is not None else station.free_sketch_space
        if free is not None and image.size > free:
            return None, (
                f"the assigned image ({image.size:,} bytes) does not fit the {free:,} bytes"
                " of free space the station reports: not offered"
            )
        held = await self._does_not_take(station, request, image)
        return (None, held) if held is not None else (image, None)

    async def _assignment_for(self, station: Station) -> tuple[FirmwareImage, bool] | None:
        """`AssignedImages.for_station`, from the assignments kept in memory and the station's tags."""
        assigned = await self._assigned.get(ALL)
        return None if assigned is None else assigned.for_station(station.mac, station.tags)

    async def _read_assigned(self, _: list[str]) -> dict[str, AssignedImages]:
        return {ALL: await self._registry.images.assigned_images()}

    def _forget_assignments(self, macs: frozenset[str]) -> None:
        if site_wide(macs):  # a station's own change (its tags) reaches it through its view
            self._assigned.forget_all()

    async def _already_runs(self, station: Station, request: OtaRequest, image: FirmwareImage) -> bool:
        if self._sketches is not None and await self._sketches.runs(
            image, md5=request.sketch_md5, sha256=request.sketch_sha256, sketch_size=request.sketch_size
        ):
            return True
        if self._sketches is None and _same_digest(request, image):
            return True
        version = request.version or station.version
        if version is None or image.version is None or version != image.version:
            return False
        return station.project is None or image.project is None or station.project == image.project

    async def _does_not_take(self, station: Station, request: OtaRequest, image: FirmwareImage) -> str | None:
        """The loop breaker: None to offer the image, else why it is no longer offered (and the alert is up)."""
        downloads, last = await self._registry.history.full_downloads(station.mac, image.sha256, image.size)
        if downloads < _DOWNLOADS_THAT_DID_NOT_TAKE:
            return None
        running = request.version or station.version
        if running is None:
            running = f"the sketch of MD5 {request.sketch_md5[:12]}…" if request.sketch_md5 else "what it ran before"
        message = (
            f"the update does not take: {station.name} downloaded {_label(image)} in full {downloads} times"
            f" and still runs {running}; it is no longer offered (clear the alert to try again)"
        )

        async def op(log: EventLog) -> None:
            open_alerts = await open_alerts_for(log.conn, station.mac)
            stale = open_alerts.get(_NOT_TAKING)
            if stale is not None and stale.data.get("sha256") != image.sha256:
                await clear_alert(log, _NOT_TAKING, station.mac, f"{station.name} is offered another image now")
            await raise_alert(log, _NOT_TAKING, station.mac, message, sha256=image.sha256, last_transfer=last)

        await self._journal.write(op)
        return message

    async def _took(self, station: Station, image: FirmwareImage) -> None:
        """The station runs the image: an alert that it would not take it is over."""
        if station.ota_note is None or not station.ota_note.startswith("the update does not take"):
            return

        async def op(log: EventLog) -> None:
            await clear_alert(log, _NOT_TAKING, station.mac, f"{station.name} now runs {_label(image)}")

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


def _label(image: FirmwareImage) -> str:
    return " ".join(str(v) for v in (image.project, image.version) if v) or f"image {image.sha256[:12]}"


def _same_digest(request: OtaRequest, image: FirmwareImage) -> bool:
    if request.sketch_md5 is not None and request.sketch_md5.lower() == image.md5:
        return True
    return request.sketch_sha256 is not None and request.sketch_sha256.lower() == image.app_sha256
