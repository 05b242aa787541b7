"""What the appliance knows of each USB serial port and of the job running on it: values, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from services.adapters.usb.bootloader import Region
from services.domain.onboarding.provisioning import Prepared

Phase = Literal[
    "new",  # seen, not identified (automatic identification is off)
    "identifying",
    "ready",  # a ROM bootloader answered: chip and MAC known, ready to flash
    "improv",  # its firmware speaks Improv: ready for the site Wi-Fi
    "silent",  # neither answered
    "flashing",
    "waiting",  # flashed, verified, registered, reset: waiting for the first check-in
    "arrived",  # the flashed station checked in
    "flashed",  # flashed and registered, but it has not checked in yet
    "joining",  # Wi-Fi handed over Improv, the station is joining
    "joined",
    "failed",
]
BUSY: tuple[Phase, ...] = ("identifying", "flashing", "waiting", "joining")
JobKind = Literal["flash", "improv"]


@dataclass(frozen=True, slots=True)
class PortJob:
    """A flash or an Improv hand-over on one port, as far as it got."""

    kind: JobKind
    station: str  # the name the station is given (flash) or tells (Improv)
    detail: str  # the firmware being flashed, or the SSID being sent
    stage: str
    percent: int
    started_at: float
    finished_at: float | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class UsbPort:
    """A serial port, what answered on it and what is being done to it."""

    path: str
    name: str
    description: str
    vid: int | None
    pid: int | None
    serial_number: str | None
    present: bool
    phase: Phase
    message: str
    updated_at: float
    chip: str | None = None
    chip_description: str | None = None
    mac: str | None = None
    flash_size: str | None = None
    features: tuple[str, ...] = ()
    improv_state: int | None = None
    improv_firmware: str | None = None  # "ESPHome 2024.6.1"
    improv_device: str | None = None  # the name the device gives itself
    urls: tuple[str, ...] = ()
    job: PortJob | None = None

    @property
    def busy(self) -> bool:
        """A job is running on it: nothing else may start."""
        return self.phase in BUSY

    @property
    def speaks_improv(self) -> bool:
        """It answered Improv the last time it was asked."""
        return self.improv_state is not None


@dataclass(frozen=True, slots=True)
class PreparedStation:
    """A station ready to be written to a chip: nothing of it is in the registry until `commit`."""

    name: str
    chip: str
    config: tuple[Region, ...]  # the NVS partition (and what else the layout needs) with its token inside
    app_offset: int
    secrets: tuple[str, ...] = field(default=(), repr=False)  # never shown: kept out of every message
    provision: Prepared | None = field(default=None, repr=False)  # the onboarding domain's (None: no config)
