-- The drill log: an administrator's test failovers of one recorder each, which leave the
-- recorder undisturbed. A drill is `running` until it passes, fails at a step, or is cancelled
-- by a real failure.
CREATE TABLE drills (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    recorder_id        INTEGER NOT NULL REFERENCES servers (id),
    failover_server_id INTEGER REFERENCES servers (id),
    status             TEXT    NOT NULL,
    step               TEXT,
    seconds            INTEGER NOT NULL,
    requested_by       TEXT    NOT NULL,
    started_at         TEXT    NOT NULL,
    finished_at        TEXT,
    message            TEXT
);
CREATE INDEX drills_by_start ON drills (started_at DESC, id DESC);
