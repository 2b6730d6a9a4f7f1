-- A failover may end restored: its failover server was lost and the repaired recorder records
-- for itself again, by an operator's decision. SQLite cannot change a CHECK constraint in
-- place, and rebuilding the log's table inside the migration's transaction (where foreign keys
-- cannot be switched off) would cascade into its notes. Allowing one more value only loosens
-- the constraint, which SQLite documents as safe to do by editing the stored schema; the
-- schema is then reloaded on this connection (RESET), and the index rebuilt so that the
-- schema cookie changes and every other connection reloads it too.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
SET sql = replace(sql, 'IN (''manual'', ''automatic'', ''superseded'')',
                       'IN (''manual'', ''automatic'', ''superseded'', ''restored'')')
WHERE type = 'table' AND name = 'failovers';
PRAGMA writable_schema = RESET;
DROP INDEX failovers_by_status;
CREATE INDEX failovers_by_status ON failovers (status, id);
