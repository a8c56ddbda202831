-- Reconciliation (issue 11): what each sync changed, per transaction; the balance continuity
-- verdict per account and sync; and enough on each kept bank answer to replay it.

ALTER TABLE sync_runs ADD COLUMN transactions_cancelled BIGINT NOT NULL DEFAULT 0;

-- Every change of a transaction, with the sync run that made it: `added`, `booked`, `modified`,
-- `cancelled`, `reinstated`. The events feed and webhooks are built on it.
CREATE TABLE transaction_changes (
    id TEXT PRIMARY KEY,
    sync_run_id TEXT NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    transaction_id TEXT NOT NULL REFERENCES transactions (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    -- The transaction's status and amount after the change, and before it (NULL when added).
    status TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    previous_status TEXT,
    previous_amount_minor BIGINT,
    changed_at TIMESTAMP NOT NULL
);
CREATE INDEX transaction_changes_run_idx ON transaction_changes (sync_run_id);
CREATE INDEX transaction_changes_transaction_idx ON transaction_changes (transaction_id);
CREATE INDEX transaction_changes_account_idx ON transaction_changes (account_id, changed_at);

-- Booked balance now − booked balance at the previous checked sync = what booked in between.
-- `verdict`: ok, gap (`gap_minor` = the difference not explained) or unknown (nothing to compare).
CREATE TABLE balance_continuity (
    sync_run_id TEXT NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    verdict TEXT NOT NULL,
    booked_minor BIGINT,
    previous_booked_minor BIGINT,
    booked_between_minor BIGINT NOT NULL,
    gap_minor BIGINT,
    checked_at TIMESTAMP NOT NULL,
    PRIMARY KEY (sync_run_id, account_id)
);
CREATE INDEX balance_continuity_account_idx ON balance_continuity (account_id, checked_at);

-- A kept answer names the sync that read it, the account it is about (its key) and, for a
-- transactions call, the `dateFrom` asked: `passerelle replay` needs all three.
ALTER TABLE bank_responses ADD COLUMN sync_run_id TEXT;
ALTER TABLE bank_responses ADD COLUMN account_key TEXT;
ALTER TABLE bank_responses ADD COLUMN covered_from TIMESTAMP;
CREATE INDEX bank_responses_run_idx ON bank_responses (sync_run_id);
CREATE INDEX bank_responses_received_idx ON bank_responses (received_at);
