-- The licence: whether failover is allowed and how many failover servers may act at once.
CREATE TABLE licence (
    id                INTEGER PRIMARY KEY CHECK (id = 1),
    failover_enabled  BOOLEAN NOT NULL,
    failover_servers  INTEGER NOT NULL CHECK (failover_servers >= 0),
    updated_at        TEXT    NOT NULL,
    updated_by        TEXT    NOT NULL
);

-- The recorder settings cache: each recorder's latest bundle, kept for when it is dead.
CREATE TABLE recorder_settings (
    server_id  INTEGER PRIMARY KEY REFERENCES servers (id) ON DELETE CASCADE,
    version    INTEGER NOT NULL,
    bundle     TEXT    NOT NULL,
    fetched_at TEXT    NOT NULL
);

-- Failover groups: which failover servers may cover which recorders, in which order.
CREATE TABLE failover_groups (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL COLLATE NOCASE UNIQUE
);
CREATE TABLE failover_group_members (
    group_id  INTEGER NOT NULL REFERENCES failover_groups (id) ON DELETE CASCADE,
    server_id INTEGER NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    -- Failover servers are tried by ascending position; recorders have none.
    position  INTEGER,
    PRIMARY KEY (group_id, server_id)
);
-- A server belongs to at most one group.
CREATE UNIQUE INDEX failover_group_members_server ON failover_group_members (server_id);

-- The failover log.
CREATE TABLE failovers (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    recorder_id          INTEGER NOT NULL REFERENCES servers (id),
    failover_server_id   INTEGER REFERENCES servers (id),
    status               TEXT NOT NULL CHECK (status IN ('failing_over', 'active', 'failing_back', 'finalized', 'failed')),
    failover_started_at  TEXT NOT NULL,
    failover_finished_at TEXT,
    failback_started_at  TEXT,
    failback_finished_at TEXT,
    failback_trigger     TEXT CHECK (failback_trigger IN ('manual', 'automatic', 'superseded')),
    failback_by          TEXT,
    error_code           TEXT,
    error                TEXT,
    copy_status          TEXT NOT NULL DEFAULT 'not_started'
        CHECK (copy_status IN ('not_started', 'queued', 'copying', 'done', 'failed'))
);
-- At most one open failover per recorder and per failover server, whatever runs concurrently.
CREATE UNIQUE INDEX failovers_one_open_per_recorder ON failovers (recorder_id)
    WHERE status IN ('failing_over', 'active', 'failing_back');
CREATE UNIQUE INDEX failovers_one_open_per_failover_server ON failovers (failover_server_id)
    WHERE status IN ('failing_over', 'active', 'failing_back');
CREATE INDEX failovers_by_status ON failovers (status, id);

-- What happened on the way: steps, refusals, warnings, errors.
CREATE TABLE failover_notes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    failover_id INTEGER NOT NULL REFERENCES failovers (id) ON DELETE CASCADE,
    at          TEXT NOT NULL,
    level       TEXT NOT NULL CHECK (level IN ('info', 'warning', 'error')),
    code        TEXT NOT NULL,
    message     TEXT NOT NULL
);
CREATE INDEX failover_notes_by_failover ON failover_notes (failover_id, id);
