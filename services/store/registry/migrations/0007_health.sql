-- Station health, commands and long-term history.

-- The SDK's numeric reset reason from the last check-in (ESP8266 rst_info.reason, ESP32 esp_reset_reason_t).
ALTER TABLE stations ADD COLUMN reset_reason INTEGER;

-- Every restart the appliance saw (uptime went back), with its normalised cause.
CREATE TABLE restarts (
    id             INTEGER PRIMARY KEY,
    mac            TEXT NOT NULL REFERENCES stations (mac) ON DELETE CASCADE,
    at             REAL NOT NULL,
    cause          TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('crash', 'power', 'planned', 'other')),
    reset_reason   INTEGER,
    firmware_cause TEXT,
    uptime_before  INTEGER,
    version        TEXT
) STRICT;

CREATE INDEX restarts_by_station ON restarts (mac, at);
CREATE INDEX restarts_by_time ON restarts (at);

-- Restarts counted by cause since the station was first seen: never pruned (a few rows a station), so
-- the Prometheus counters only ever go up.
CREATE TABLE restart_counts (
    mac   TEXT NOT NULL REFERENCES stations (mac) ON DELETE CASCADE,
    cause TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (mac, cause)
) STRICT, WITHOUT ROWID;

-- Alerts: raised and cleared by the domain (or dismissed by the admin); at most one open per kind and station.
CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    mac             TEXT REFERENCES stations (mac) ON DELETE CASCADE,
    message         TEXT NOT NULL,
    data            TEXT NOT NULL DEFAULT '{}',
    raised_at       REAL NOT NULL,
    cleared_at      REAL,
    cleared_message TEXT
) STRICT;

CREATE UNIQUE INDEX alerts_open ON alerts (kind, ifnull(mac, '')) WHERE cleared_at IS NULL;
CREATE INDEX alerts_by_station ON alerts (mac, id);

-- Commands for stations: queued by the admin, delivered in a check-in answer, acknowledged by the station.
CREATE TABLE commands (
    id           INTEGER PRIMARY KEY,
    mac          TEXT NOT NULL REFERENCES stations (mac) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    args         TEXT NOT NULL DEFAULT '{}',
    state        TEXT NOT NULL
                 CHECK (state IN ('queued', 'delivered', 'running', 'succeeded', 'failed', 'expired', 'cancelled')),
    created_at   REAL NOT NULL,
    expires_at   REAL NOT NULL,
    delivered_at REAL,
    finished_at  REAL,
    forced       INTEGER NOT NULL DEFAULT 0,
    result       TEXT
) STRICT;

CREATE INDEX commands_open ON commands (mac, id) WHERE state IN ('queued', 'delivered', 'running');
CREATE INDEX commands_by_time ON commands (created_at);

-- Check-in history summarised per hour or day once the raw samples have aged out.
CREATE TABLE checkin_rollups (
    mac        TEXT NOT NULL REFERENCES stations (mac) ON DELETE CASCADE,
    span_s     INTEGER NOT NULL,
    start      REAL NOT NULL,
    samples    INTEGER NOT NULL,
    rssi_min   INTEGER,
    rssi_max   INTEGER,
    rssi_avg   REAL,
    heap_min   INTEGER,
    uptime_max INTEGER,
    version    TEXT,
    PRIMARY KEY (mac, span_s, start)
) STRICT, WITHOUT ROWID;
