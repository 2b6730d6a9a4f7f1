-- The secret each agent accepts as a bearer token (written by administrators, never read back
-- through the API), and servers removed from the site: kept so the failover log still names
-- them, hidden everywhere else, and revived when a server of that name is added again.
ALTER TABLE servers ADD COLUMN secret TEXT;
ALTER TABLE servers ADD COLUMN removed_at TIMESTAMPTZ;
