"""Writes of one kind that arrive together go through the writer as one operation, and still fail alone.

Fifty stations beginning a download at once each need a start record before their image's last bytes. Each
record was an operation of its own: a savepoint and a statement each, every one a hop to SQLite's thread
through a loop busy sending images, and each image's last 4 KiB waited 12 to 18 ms for it. The tests count the
statements the writer runs for fifty records, and show that a record that cannot be written costs only its
own download, and that a closed registry leaves nobody waiting.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from services.core.eventbus import EventBus
from services.store.grouped import GroupedWrites
from services.store.journal import EventLog, Journal
from services.store.registry import Database, Registry
from services.store.registry.history import TransferStart, start_transfers

MACS = [f"24:0A:C4:0F:00:{i:02X}" for i in range(50)]
SHA = "ab" * 32


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[Journal]:
    db = await Database.open(tmp_path / "registry.sqlite3")
    journal = Journal(Registry(db), EventBus())

    async def stations(log: EventLog) -> None:
        await log.conn.executemany(
            "INSERT INTO stations (mac, name, status, created_at) VALUES (?, ?, 'accepted', 0)",
            [(mac, f"s{i}") for i, mac in enumerate(MACS)],
        )

    await journal.write(stations)
    try:
        yield journal
    finally:
        await db.close()


async def statements_of(db: Database) -> list[str]:
    """Every statement the writer's connection runs from now on (SQLite's own trace)."""
    seen: list[str] = []
    await db._writer.set_trace_callback(seen.append)  # the writer's connection is private: a test's peek
    return seen


async def record_starts(log: EventLog, starts: Sequence[TransferStart]) -> list[int]:
    return await start_transfers(log.conn, starts, log.now)


async def test_fifty_downloads_beginning_at_once_are_recorded_by_a_handful_of_statements(journal: Journal) -> None:
    db = journal.registry.db
    groups: list[int] = []

    async def counted(log: EventLog, starts: Sequence[TransferStart]) -> list[int]:
        groups.append(len(starts))
        return await record_starts(log, starts)

    starts = GroupedWrites(journal, counted)
    seen = await statements_of(db)
    ids = await asyncio.gather(*(starts.write(TransferStart(mac, SHA, 0, 999)) for mac in MACS))

    assert groups == [len(MACS)], "one operation for every record that arrived before its turn"
    # SQLite traces each row of an executemany (and its triggers): what costs a hop is everything else.
    trips = [statement for statement in seen if not statement.startswith("INSERT INTO transfers")]
    assert trips.count("SAVEPOINT op") == 1, "one savepoint, not one a record"
    assert len(trips) <= 8, trips  # BEGIN, SAVEPOINT, the ids, RELEASE, what it touched, COMMIT; 150 one by one
    rows = await db.fetch_all("SELECT id, mac FROM transfers ORDER BY id")
    assert {row["id"]: row["mac"] for row in rows} == dict(zip(ids, MACS, strict=True)), "each its own id"


async def test_a_record_that_cannot_be_written_costs_only_its_own_download(journal: Journal) -> None:
    async def refusing(log: EventLog, starts: Sequence[TransferStart]) -> list[int]:
        if any(start.mac == MACS[1] for start in starts):
            raise sqlite3.IntegrityError("this station was deleted meanwhile")
        return await record_starts(log, starts)

    starts = GroupedWrites(journal, refusing)
    outcomes = await asyncio.gather(
        *(starts.write(TransferStart(mac, SHA, 0, 999)) for mac in MACS[:3]), return_exceptions=True
    )

    assert isinstance(outcomes[1], sqlite3.IntegrityError)
    assert all(isinstance(outcome, int) for outcome in (outcomes[0], outcomes[2]))
    rows = await journal.registry.db.fetch_all("SELECT mac FROM transfers ORDER BY id")
    assert sorted(row["mac"] for row in rows) == [MACS[0], MACS[2]], "the others are on record, nothing half"


async def test_records_asked_of_a_closed_registry_fail_instead_of_waiting_for_ever(journal: Journal) -> None:
    starts = GroupedWrites(journal, record_starts)
    await journal.registry.db.close()
    asked = [starts.write(TransferStart(mac, SHA, 0, 999)) for mac in MACS[:5]]
    outcomes = await asyncio.wait_for(asyncio.gather(*asked, return_exceptions=True), 5)
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes), outcomes
