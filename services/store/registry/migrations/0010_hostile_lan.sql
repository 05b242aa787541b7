-- Nobody on the site's LAN gets in by knowing a MAC, and station traffic cannot push the admin's trail out.

-- The SHA-256 of the key a station generated and sent at its first contact, pinned then (as SSH pins a
-- host key): a request without a token that names the station must carry the same key.
ALTER TABLE stations ADD COLUMN key_hash TEXT;
ALTER TABLE stations ADD COLUMN key_pinned_at REAL;

-- 1 for an event the admin's own action wrote (accepts, assignments, a passphrase revealed): the audit
-- trail, kept by age alone and never pushed out by the row cap that bounds what stations cause.
ALTER TABLE events ADD COLUMN audit INTEGER NOT NULL DEFAULT 0;
CREATE INDEX events_traffic ON events (id) WHERE audit = 0;

-- The newest signed sequence seen of each feed (URL and key), kept when the site stops following it: the
-- same feed followed again never accepts an older, replayed one.
CREATE TABLE feed_sequences (
    url        TEXT NOT NULL,
    public_key TEXT NOT NULL,
    sequence   INTEGER NOT NULL,
    PRIMARY KEY (url, public_key)
) STRICT, WITHOUT ROWID;
