-- Payments end to end (issue 14). A payment row is the intent, written before the bank is
-- called; what the bank answered, each status change and the PSU's approval link follow.
ALTER TABLE payments ADD COLUMN instruction_id TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN status_reason TEXT;
ALTER TABLE payments ADD COLUMN bank_status TEXT;
ALTER TABLE payments ADD COLUMN requested_execution_date DATE;
ALTER TABLE payments ADD COLUMN instant BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE payments ADD COLUMN redirect_url TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN debtor_account_id TEXT;
-- The bank's approval link (a bearer for the PSU's approval page), sealed.
ALTER TABLE payments ADD COLUMN approval_url_sealed BLOB;
ALTER TABLE payments ADD COLUMN approval_deadline TIMESTAMP;
ALTER TABLE payments ADD COLUMN confirmed_at TIMESTAMP;

CREATE INDEX payments_user ON payments (user_id, created_at);
CREATE INDEX payments_status ON payments (status);

-- Every status a payment took, with when and why.
CREATE TABLE payment_status_changes (
    id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL REFERENCES payments (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    reason TEXT,
    bank_status TEXT,
    changed_at TIMESTAMP NOT NULL
);
CREATE INDEX payment_status_changes_payment ON payment_status_changes (payment_id, changed_at);
