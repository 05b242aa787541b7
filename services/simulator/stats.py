"""What simulated stations did, counted per station and summed for a fleet."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(slots=True)
class StationStats:
    """Outcome counters; `errors` counts every request that went wrong, connection failures included."""

    checkins: int = 0
    config_fetches: int = 0
    ota_polls: int = 0
    updates: int = 0
    failed_updates: int = 0
    interrupted_downloads: int = 0
    events_sent: int = 0
    refused: int = 0  # 403 answers: a rejected or retired station carries on as firmware would
    restarts: int = 0  # watchdog and brownout restarts, not OTA ones
    commands: int = 0  # commands run (each once, however often delivered)
    errors: int = 0
    connection_errors: int = 0  # the part of `errors` where the appliance could not be reached or broke off
    last_error: str | None = None

    def add(self, other: StationStats) -> None:
        """Sum another station's counters into these (the later last_error wins)."""
        for counter in fields(self):
            if counter.name != "last_error":
                setattr(self, counter.name, getattr(self, counter.name) + getattr(other, counter.name))
        self.last_error = other.last_error or self.last_error

    @property
    def clean(self) -> bool:
        """True when nothing went wrong: no error and no refused update."""
        return self.errors == 0 and self.failed_updates == 0
