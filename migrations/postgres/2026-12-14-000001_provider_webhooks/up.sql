-- Provider webhooks accepted (Treezor's `webhook_id`), so that a replayed one changes nothing.
CREATE TABLE provider_webhook_events (
    bank_id TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL,
    PRIMARY KEY (bank_id, webhook_id)
);
CREATE INDEX provider_webhook_events_received_at ON provider_webhook_events (received_at);
