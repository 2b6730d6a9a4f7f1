-- A failover may end restored: its failover server was lost and the repaired recorder records
-- for itself again, by an operator's decision.
ALTER TABLE failovers DROP CONSTRAINT failovers_failback_trigger_check;
ALTER TABLE failovers ADD CONSTRAINT failovers_failback_trigger_check
    CHECK (failback_trigger IN ('manual', 'automatic', 'superseded', 'restored'));
