-- Staged rollouts: one image offered wave by wave, each station's progress as the appliance observed it.
-- Images are not foreign keys here: a finished rollout is history and must not pin its images forever.

CREATE TABLE rollouts (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT NOT NULL,
    sha256               TEXT NOT NULL,
    target               TEXT NOT NULL,  -- JSON, as the admin gave it: {"all": true}, {"tag": "t"}, {"stations": [...]}
    waves                TEXT NOT NULL,  -- JSON list of wave sizes as given: 1, "25%", "rest"
    wave_count           INTEGER NOT NULL,
    state                TEXT NOT NULL CHECK (state IN
                             ('running', 'paused', 'halted', 'completed', 'cancelled', 'rolling_back', 'rolled_back')),
    current_wave         INTEGER NOT NULL DEFAULT 0,
    -- Resuming a halted rollout accepts the failures of the waves up to this one.
    tolerated_wave       INTEGER NOT NULL DEFAULT -1,
    soak_s               REAL NOT NULL,
    timeout_s            REAL NOT NULL,
    max_failures_percent REAL NOT NULL,
    min_rssi             INTEGER NOT NULL,
    min_free_heap        INTEGER NOT NULL,
    downloads_per_ap     INTEGER NOT NULL,
    maintenance_window   TEXT,
    created_at           REAL NOT NULL,
    paused_at            REAL,
    finished_at          REAL,
    reason               TEXT
) STRICT;

CREATE INDEX rollouts_active ON rollouts (state) WHERE state IN ('running', 'paused', 'halted', 'rolling_back');

CREATE TABLE rollout_stations (
    rollout_id          INTEGER NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
    mac                 TEXT NOT NULL REFERENCES stations (mac) ON DELETE CASCADE,
    -- 1 while the rollout is not finished: the unique index below is "one active rollout per station".
    active              INTEGER NOT NULL DEFAULT 1,
    wave                INTEGER NOT NULL,
    position            INTEGER NOT NULL,
    state               TEXT NOT NULL CHECK (state IN ('queued', 'initiated', 'downloading', 'downloaded',
                            'updating', 'updated', 'failed', 'timed_out', 'rolled_back')),
    direction           TEXT NOT NULL DEFAULT 'forward' CHECK (direction IN ('forward', 'back')),
    critical            INTEGER NOT NULL DEFAULT 0,
    approved            INTEGER NOT NULL DEFAULT 0,
    previous_sha256     TEXT,
    previous_version    TEXT,
    hold                TEXT,  -- why it is not offered the image right now (signal, heap, approval, the AP's slots)
    outcome             TEXT,  -- what the appliance saw, as a word: never_asked, got_304, partial, old_version, ...
    reason              TEXT,  -- the same for people
    initiated_at        REAL,
    deadline_at         REAL,
    first_poll_at       REAL,
    last_answer         TEXT,
    download_started_at REAL,
    downloaded_at       REAL,
    reached             REAL,  -- the largest fraction of the image sent so far
    came_back_at        REAL,
    soak_until          REAL,
    finished_at         REAL,
    PRIMARY KEY (rollout_id, mac)
) STRICT;

CREATE UNIQUE INDEX rollout_stations_one_active ON rollout_stations (mac) WHERE active = 1;
CREATE INDEX rollout_stations_by_mac ON rollout_stations (mac);

-- Downloads still open, for the per-access-point cap.
CREATE INDEX transfers_open ON transfers (started_at) WHERE finished_at IS NULL;
