"""The registry's schema as the migrations make it, to hold a registry from elsewhere (a backup) against."""

from __future__ import annotations

import sqlite3

from services.store.registry.database import migration_scripts

Entry = tuple[str, str, str, str]  # (type, name, table, SQL with its whitespace collapsed)


def schema_of(conn: sqlite3.Connection) -> set[Entry]:
    """Every table, index, view and trigger of a database, as sqlite_master records them."""
    rows = conn.execute("SELECT type, name, tbl_name, ifnull(sql, '') FROM sqlite_master").fetchall()
    return {(str(kind), str(name), str(table), " ".join(str(sql).split())) for kind, name, table, sql in rows}


def migrated_schema(version: int) -> set[Entry]:
    """The schema the bundled migrations make, up to and including `version`."""
    conn = sqlite3.connect(":memory:")
    try:
        for number, _, sql in migration_scripts():
            if number > version:
                break
            conn.executescript(sql)
        return schema_of(conn)
    finally:
        conn.close()


def differences(conn: sqlite3.Connection, version: int) -> list[str]:
    """What a database at `version` has beyond, lacks of, or has otherwise than the migrations make (empty: none)."""
    have = {(kind, name): entry for kind, name, *entry in schema_of(conn)}
    want = {(kind, name): entry for kind, name, *entry in migrated_schema(version)}
    found = []
    for kind, name in sorted(have.keys() | want.keys()):
        if (kind, name) not in want:
            found.append(f"a {kind} {name!r} that the migrations never make")
        elif (kind, name) not in have:
            found.append(f"no {kind} {name!r}")
        elif have[kind, name] != want[kind, name]:
            found.append(f"the {kind} {name!r} changed")
    return found
