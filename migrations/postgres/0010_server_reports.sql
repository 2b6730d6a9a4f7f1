-- What each server last said of itself that the readiness check needs: the settings version in
-- force, what its settings record (a recorder) and what it can carry (a failover server).
-- Written by the leading manager's monitor only when it changes, so every manager can answer.
CREATE TABLE server_reports (
    server_id         BIGINT PRIMARY KEY REFERENCES servers (id) ON DELETE CASCADE,
    settings_version  BIGINT NOT NULL,
    load_channels     BIGINT,
    load_kbps         BIGINT,
    capacity_channels BIGINT,
    capacity_kbps     BIGINT,
    reported_at       TIMESTAMPTZ NOT NULL
);
