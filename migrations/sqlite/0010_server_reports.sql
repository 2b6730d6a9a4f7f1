-- What each server last said of itself that the readiness check needs: the settings version in
-- force, what its settings record (a recorder) and what it can carry (a failover server).
-- Written by the leading manager's monitor only when it changes, so every manager can answer.
CREATE TABLE server_reports (
    server_id         INTEGER PRIMARY KEY REFERENCES servers (id) ON DELETE CASCADE,
    settings_version  INTEGER NOT NULL,
    load_channels     INTEGER,
    load_kbps         INTEGER,
    capacity_channels INTEGER,
    capacity_kbps     INTEGER,
    reported_at       TEXT    NOT NULL
);
