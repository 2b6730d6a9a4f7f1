-- Material copying: per channel progress of each failover's copy, as the repaired recorder
-- reports it; and the per-server setting that starts copying after failback.
ALTER TABLE servers ADD COLUMN copy_after_failback BOOLEAN NOT NULL DEFAULT TRUE;

CREATE TABLE copy_channels (
    failover_id  BIGINT  NOT NULL REFERENCES failovers (id) ON DELETE CASCADE,
    channel      TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('not_started', 'queued', 'copying', 'done', 'failed')),
    copied_until TIMESTAMPTZ,
    bytes        BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (failover_id, channel)
);

-- When material copying was (last) started: the basis of the time-left estimate.
ALTER TABLE failovers ADD COLUMN copy_started_at TIMESTAMPTZ;
