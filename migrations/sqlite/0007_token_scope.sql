-- What an API token may be used for: `full` (everything its role allows, as before) or
-- `metrics` (GET /metrics only, for a Prometheus scraper that must not read settings).
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'full'
    CHECK (scope IN ('full', 'metrics'));
