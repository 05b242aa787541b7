-- What mDNS shows on the site's LAN: one row per announced service instance, removed when it goes.

CREATE TABLE lan_services (
    name          TEXT PRIMARY KEY,
    type          TEXT NOT NULL,
    host          TEXT,
    address       TEXT,
    port          INTEGER,
    txt           TEXT NOT NULL DEFAULT '{}',
    board         TEXT,
    mac           TEXT,
    first_seen_at REAL NOT NULL,
    last_seen_at  REAL NOT NULL
) STRICT;

CREATE INDEX lan_services_by_mac ON lan_services (mac);
