-- One manager per SQLite file (a file lock makes sure), so it is always the leader and these
-- tables stay empty; they exist so that the store's fenced statements read the same on both
-- databases (with no epoch given, the fence passes).
CREATE TABLE managers (
    id TEXT PRIMARY KEY,
    listen TEXT NOT NULL,
    started_at TEXT NOT NULL,
    last_renewed_at TEXT NOT NULL
);

CREATE TABLE leadership (
    name TEXT PRIMARY KEY CHECK (name = 'leader'),
    holder TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    elected_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
