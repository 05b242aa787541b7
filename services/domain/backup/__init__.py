"""Backups of a site (registry, firmware, config) in one archive, and restoring one while the service runs."""

from __future__ import annotations

from services.domain.backup.archive import Manifest
from services.domain.backup.limits import ArchiveError
from services.domain.backup.site import RestoreSummary, SiteBackup

__all__ = ["ArchiveError", "Manifest", "RestoreSummary", "SiteBackup"]
