-- Several managers on one database: each renews its row in `managers`; the one row of
-- `leadership` is the lease. Its epoch only grows: every new term gets the next one, and the
-- leader's commands and automatic writes carry it, so a stale leader's are refused.
CREATE TABLE managers (
    id TEXT PRIMARY KEY,
    listen TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_renewed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE leadership (
    name TEXT PRIMARY KEY CHECK (name = 'leader'),
    holder TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    elected_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
