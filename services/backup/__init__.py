"""Backups of a site (registry, firmware, config) in one archive, and restoring one while the service runs."""

from __future__ import annotations

from services.backup.archive import Manifest
from services.backup.limits import ArchiveError
from services.backup.site import RestoreSummary, SiteBackup

__all__ = ["ArchiveError", "Manifest", "RestoreSummary", "SiteBackup"]
