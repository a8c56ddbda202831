-- The unattended sync (issue 12): when each connection's next scheduled sync is due (indexed:
-- the scheduler reads only what is due, never every connection), and what each run skipped for
-- quota. Active connections are due at once; the scheduler then spreads them over the day.
ALTER TABLE connections ADD COLUMN next_sync_at TIMESTAMP;
CREATE INDEX connections_next_sync_idx ON connections (next_sync_at);
UPDATE connections SET next_sync_at = (now() AT TIME ZONE 'UTC') WHERE status = 'active';
ALTER TABLE sync_runs ADD COLUMN skipped_for_quota BIGINT NOT NULL DEFAULT 0;
-- `done` and `failed` jobs of the first queue are gone from the new one (done jobs leave it;
-- a job out of attempts is `dead`).
DELETE FROM jobs WHERE status = 'done';
UPDATE jobs SET status = 'dead', dedup_key = NULL WHERE status = 'failed';
