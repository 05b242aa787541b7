-- The first registry layout. Times are UNIX seconds (REAL); MACs are upper-case AA:BB:CC:DD:EE:FF.

CREATE TABLE stations (
    mac               TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected', 'retired')),
    chip              TEXT,
    project           TEXT,
    version           TEXT,
    rssi              INTEGER,
    uptime_s          INTEGER,
    free_heap         INTEGER,
    free_sketch_space INTEGER,
    restart_cause     TEXT,
    ip                TEXT,
    bssid             TEXT,
    created_at        REAL NOT NULL,
    last_seen_at      REAL,
    token_hash        TEXT,
    -- 1 while the issued token has never been used: a token-less check-in may then receive a new one
    -- (the answer that carried the first may have been lost).
    token_unconfirmed INTEGER NOT NULL DEFAULT 0,
    settings          TEXT NOT NULL DEFAULT '{}',
    ota_note          TEXT,
    last_history_at   REAL
) STRICT;

CREATE UNIQUE INDEX stations_token ON stations (token_hash) WHERE token_hash IS NOT NULL;

CREATE TABLE station_tags (
    mac TEXT NOT NULL REFERENCES stations (mac) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (mac, tag)
) STRICT, WITHOUT ROWID;

CREATE INDEX station_tags_by_tag ON station_tags (tag);

CREATE TABLE images (
    sha256      TEXT PRIMARY KEY,
    md5         TEXT NOT NULL,
    size        INTEGER NOT NULL,
    chip        TEXT NOT NULL,
    project     TEXT,
    version     TEXT,
    filename    TEXT NOT NULL,
    imported_at REAL NOT NULL,
    idf_version TEXT,
    build_date  TEXT
) STRICT;

CREATE TABLE assignments (
    id         INTEGER PRIMARY KEY,
    sha256     TEXT NOT NULL REFERENCES images (sha256),
    mac        TEXT UNIQUE REFERENCES stations (mac) ON DELETE CASCADE,
    tag        TEXT UNIQUE,
    created_at REAL NOT NULL,
    CHECK ((mac IS NULL) <> (tag IS NULL))
) STRICT;

CREATE TABLE events (
    id      INTEGER PRIMARY KEY,
    at      REAL NOT NULL,
    kind    TEXT NOT NULL,
    mac     TEXT,
    message TEXT NOT NULL,
    data    TEXT NOT NULL DEFAULT '{}'
) STRICT;

CREATE INDEX events_by_station ON events (mac, id);
CREATE INDEX events_by_time ON events (at);

CREATE TABLE checkins (
    id            INTEGER PRIMARY KEY,
    mac           TEXT NOT NULL REFERENCES stations (mac) ON DELETE CASCADE,
    at            REAL NOT NULL,
    rssi          INTEGER,
    uptime_s      INTEGER,
    free_heap     INTEGER,
    restart_cause TEXT,
    version       TEXT,
    ip            TEXT,
    bssid         TEXT
) STRICT;

CREATE INDEX checkins_by_station ON checkins (mac, at);
CREATE INDEX checkins_by_time ON checkins (at);

CREATE TABLE transfers (
    id          INTEGER PRIMARY KEY,
    mac         TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    started_at  REAL NOT NULL,
    range_start INTEGER NOT NULL,
    range_end   INTEGER NOT NULL,
    bytes_sent  INTEGER NOT NULL DEFAULT 0,
    finished_at REAL,
    complete    INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX transfers_by_station ON transfers (mac, id);

CREATE TABLE site_wifi (
    ssid     TEXT PRIMARY KEY,
    psk      TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    hidden   INTEGER NOT NULL DEFAULT 0
) STRICT;
