"""The registry: the SQLite file that is the one source of truth, and the tables in it."""

from __future__ import annotations

from pathlib import Path

from services.store.registry.checkin_buffer import CheckinBuffer
from services.store.registry.commands import CommandTable
from services.store.registry.configs import ConfigTable
from services.store.registry.database import Database, MigrationError
from services.store.registry.feed import FeedTable
from services.store.registry.health import HealthTable
from services.store.registry.history import HistoryTable
from services.store.registry.hotviews import HotViews
from services.store.registry.images import ImageTable
from services.store.registry.lan import LanTable
from services.store.registry.provisions import ProvisionTable
from services.store.registry.rollouts import RolloutTable
from services.store.registry.stations import StationTable
from services.store.registry.wifi import WifiTable

__all__ = ["Database", "MigrationError", "Registry"]


class Registry:
    """The open registry: the database and a reader for each group of tables."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.checkin_buffer = CheckinBuffer()  # check-ins not yet written; station reads see them
        self.views = HotViews(
            db, self.checkin_buffer
        )  # what a check-in reads of its station, kept between the writes that change it
        self.stations = StationTable(db, self.checkin_buffer)
        self.images = ImageTable(db)
        self.history = HistoryTable(db)
        self.wifi = WifiTable(db)
        self.lan = LanTable(db)
        self.commands = CommandTable(db)
        self.health = HealthTable(db)
        self.rollouts = RolloutTable(db)
        self.feed = FeedTable(db)
        self.provisions = ProvisionTable(db)
        self.configs = ConfigTable(db)

    @classmethod
    async def open(cls, path: Path) -> Registry:
        """Open and migrate the registry file at `path`."""
        return cls(await Database.open(path))

    async def close(self) -> None:
        """Flush pending writes and close the file."""
        await self.db.close()
