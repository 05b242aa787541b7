-- The upstream release feed this site follows (at most one), what crossed the uplink for it, and the
-- images it refused (not fetched again until the feed changes, so a bad file is not paid for twice).

CREATE TABLE feed (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    url            TEXT NOT NULL,
    public_key     TEXT NOT NULL,
    interval_s     INTEGER NOT NULL,
    etag           TEXT,
    last_modified  TEXT,
    sequence       INTEGER,
    last_sync_at   REAL,
    last_outcome   TEXT,
    uplink_bytes   INTEGER NOT NULL DEFAULT 0,
    downloads      INTEGER NOT NULL DEFAULT 0,
    imported       INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE feed_refusals (
    sha256      TEXT PRIMARY KEY,
    sequence    INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    refused_at  REAL NOT NULL
) STRICT;
