-- Onboarding. Site networks get an id: a network removed and added again with a new passphrase
-- is a new network, which no station has acknowledged yet.

CREATE TABLE site_wifi_v2 (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    ssid     TEXT NOT NULL UNIQUE,
    psk      TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    hidden   INTEGER NOT NULL DEFAULT 0,
    -- 1: joined only when none of the site's other networks can be (a phone hotspot, a spare router)
    fallback INTEGER NOT NULL DEFAULT 0,
    added_at REAL NOT NULL DEFAULT 0
) STRICT;

INSERT INTO site_wifi_v2 (ssid, psk, priority, hidden) SELECT ssid, psk, priority, hidden FROM site_wifi ORDER BY rowid;
DROP TABLE site_wifi;
ALTER TABLE site_wifi_v2 RENAME TO site_wifi;

-- A station made ready before it ever checked in (a bench bundle, a USB flash). Until it arrives, one
-- known only by its token has no station row: the token hash lives here, and its first check-in makes
-- the row under the MAC it reports. One whose MAC is known has its station row (accepted, never seen) at once.
CREATE TABLE provisions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT NOT NULL,
    chip            TEXT NOT NULL,
    mac             TEXT,
    road            TEXT NOT NULL,
    token_hash      TEXT,
    -- the ids of the site networks written into its NVS: what it knows before its first config
    wifi            TEXT NOT NULL DEFAULT '[]',
    firmware        TEXT,
    created_at      REAL NOT NULL,
    arrived_at      REAL,
    cancelled_at    REAL,
    -- 1 when this provision inserted the station row, so that cancelling it removes the row again
    created_station INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE UNIQUE INDEX provisions_token ON provisions (token_hash) WHERE token_hash IS NOT NULL;
CREATE UNIQUE INDEX provisions_awaiting_name ON provisions (name COLLATE NOCASE)
    WHERE arrived_at IS NULL AND cancelled_at IS NULL;
CREATE INDEX provisions_by_mac ON provisions (mac) WHERE mac IS NOT NULL;

-- What each station was last sent of its config, and what it says it has applied (`config_etag` in its
-- check-ins): the site networks it has acknowledged are those of the config whose ETag it reports.
CREATE TABLE station_config (
    mac          TEXT PRIMARY KEY REFERENCES stations (mac) ON DELETE CASCADE,
    sent_etag    TEXT,
    sent_wifi    TEXT NOT NULL DEFAULT '[]',
    sent_at      REAL,
    applied_etag TEXT,
    applied_at   REAL,
    acked_wifi   TEXT NOT NULL DEFAULT '[]',
    acked_at     REAL
) STRICT, WITHOUT ROWID;
