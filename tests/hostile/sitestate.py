"""What an attack must leave as it was: the registry's tables, the firmware store, the config folder, the audit trail.

Read from the files themselves (SQLite allows a reader beside the running service's writer), so that a test
of the real `serve` compares what is on disk, not what the service says about it.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from services.root.service import FIRMWARE_DIR, REGISTRY_FILE

# Written by anything the service does while it runs (check-ins of the stations still polling, the retention's
# downloads log): compared apart, or not at all.
_LIVE = ("events", "transfers", "sqlite_sequence", "checkins", "checkin_rollups")
_LIVE_COLUMNS = ("last_seen_at", "rssi", "uptime_s", "free_heap", "last_history_at", "seen_period_s")


@dataclass(frozen=True, slots=True)
class SiteState:
    """One moment of a site, as files."""

    tables: dict[str, list[tuple[object, ...]]]
    audit: list[tuple[object, ...]]
    store: dict[str, str]
    config: dict[str, str]
    schema: list[tuple[object, ...]]


def capture(data_dir: Path, config_dir: Path | None = None, *, also_skip: tuple[str, ...] = ()) -> SiteState:
    """The site as its files hold it now (tables the service rewrites as it runs, and `also_skip`, left out)."""
    conn = sqlite3.connect(f"file:{data_dir / REGISTRY_FILE}?mode=ro", uri=True, timeout=10)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        tables = {}
        for name in names:
            if name in _LIVE or name in also_skip:
                continue
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info({name})") if r[1] not in _LIVE_COLUMNS]
            rows = conn.execute(f"SELECT {', '.join(columns)} FROM {name} ORDER BY 1, 2").fetchall()
            tables[name] = [tuple(row) for row in rows]
        audited = "audit" in [r[1] for r in conn.execute("PRAGMA table_info(events)")]  # a registry of before 0010
        query = "SELECT id, kind, mac, message FROM events WHERE audit ORDER BY id" if audited else "SELECT 1 WHERE 0"
        audit = [tuple(r) for r in conn.execute(query)]
        schema = [tuple(r) for r in conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")]
    finally:
        conn.close()
    return SiteState(tables, audit, _files(data_dir / FIRMWARE_DIR), _files(config_dir), schema)


def _files(folder: Path | None) -> dict[str, str]:
    if folder is None or not folder.exists():
        return {}
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }
