-- The changes feed (issue 13): every transaction change is numbered in its user's own
-- sequence. The counter row is updated in the sync's transaction, so on PostgreSQL a second
-- sync of the same user waits for the first to commit and a reader never sees change 8 before
-- change 7 is visible: a cursor (the last number read) never skips a change.
CREATE TABLE change_sequences (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    last_seq BIGINT NOT NULL
);

ALTER TABLE transaction_changes ADD COLUMN user_id TEXT NOT NULL DEFAULT '';
ALTER TABLE transaction_changes ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;

-- Changes recorded before this migration: their user, and numbers in the order they were made.
UPDATE transaction_changes SET user_id = (
    SELECT c.user_id FROM accounts a JOIN connections c ON c.id = a.connection_id
    WHERE a.id = transaction_changes.account_id
);
UPDATE transaction_changes SET seq = numbered.n
FROM (
    SELECT id, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY changed_at, id) AS n
    FROM transaction_changes
) AS numbered
WHERE numbered.id = transaction_changes.id;
INSERT INTO change_sequences (user_id, last_seq)
SELECT user_id, MAX(seq) FROM transaction_changes GROUP BY user_id;

CREATE UNIQUE INDEX transaction_changes_user_seq ON transaction_changes (user_id, seq);

-- Secret rotation: the previous secret keeps signing (beside the new one) until this instant.
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret_sealed BLOB;
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret_until TIMESTAMP;

-- The per-account feed's `updated_since`.
CREATE INDEX transactions_updated_idx ON transactions (account_id, updated_at);
