-- What the service knows of its clock across restarts (a Pi has no battery clock): one row.
-- untrusted_from: the first moment stamped while the clock was not synchronised, kept until the service sees
--   it synchronised; still set at start-up, it says a run ended before that and its stamps were never re-dated.
-- hold_from, hold_until: rows stamped between them may be misdated; retention deletes none of them by age
--   until it would delete rows stamped at hold_until.

CREATE TABLE clock (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    untrusted_from REAL,
    hold_from      REAL,
    hold_until     REAL
) STRICT;

INSERT INTO clock (id) VALUES (1);
