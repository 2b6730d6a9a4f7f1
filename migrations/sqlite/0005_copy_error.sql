-- Why material copying waits or failed, as the repaired recorder last reported it (e.g. the
-- failover server is not reachable), so the log can say so while the copy is retried.
ALTER TABLE failovers ADD COLUMN copy_error TEXT;
