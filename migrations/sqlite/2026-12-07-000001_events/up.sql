-- Events for the app (issue 13). Each API client numbers its events 1, 2, 3…: the counter row
-- is updated in the transaction that writes the event, so on PostgreSQL a second writer for
-- the same client waits for the first to commit, and sequence order is commit order (a reader
-- never sees 7 before 6 commits).
CREATE TABLE event_sequences (
    api_client_id TEXT PRIMARY KEY REFERENCES api_clients (id) ON DELETE CASCADE,
    last_seq BIGINT NOT NULL
);

ALTER TABLE outbox_events ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
-- Deliveries are ordered per connection (the lane); events of no connection share one lane.
ALTER TABLE outbox_events ADD COLUMN connection_id TEXT;
-- One event per key at most (a consent reminder fires once per threshold).
ALTER TABLE outbox_events ADD COLUMN dedup_key TEXT;
CREATE UNIQUE INDEX outbox_events_client_seq ON outbox_events (api_client_id, seq);
CREATE UNIQUE INDEX outbox_events_dedup ON outbox_events (dedup_key);

-- When the endpoint first failed since its last success; disabled after days of it.
ALTER TABLE webhook_endpoints ADD COLUMN failing_since TIMESTAMP;

ALTER TABLE webhook_deliveries ADD COLUMN lane TEXT NOT NULL DEFAULT '';
ALTER TABLE webhook_deliveries ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE webhook_deliveries ADD COLUMN last_error TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN created_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
CREATE INDEX webhook_deliveries_lane ON webhook_deliveries (endpoint_id, lane, status, seq);
-- The minute's sweep finds the lanes whose retry has come.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);

-- The consent reminders' range read (14, 7 and 1 days ahead).
CREATE INDEX connections_consent_expires_idx ON connections (consent_expires_at);
