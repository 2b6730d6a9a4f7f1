-- Recording servers and failover servers, with what the health monitor last saw.
CREATE TABLE servers (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    address          TEXT    NOT NULL,
    kind             TEXT    NOT NULL CHECK (kind IN ('recorder', 'failover')),
    state            TEXT    NOT NULL CHECK (state IN ('ok', 'unreachable', 'broken', 'standby', 'acting')),
    acting_for_id    INTEGER REFERENCES servers (id),
    failover_enabled BOOLEAN NOT NULL DEFAULT TRUE,
    auto_failback    BOOLEAN NOT NULL DEFAULT TRUE,
    maintenance_mode BOOLEAN NOT NULL DEFAULT FALSE,
    last_seen_at     TEXT,
    created_at       TEXT    NOT NULL
);
