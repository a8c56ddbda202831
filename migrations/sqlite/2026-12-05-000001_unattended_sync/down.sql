ALTER TABLE sync_runs DROP COLUMN skipped_for_quota;
DROP INDEX connections_next_sync_idx;
ALTER TABLE connections DROP COLUMN next_sync_at;
