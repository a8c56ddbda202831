-- A bank that answered 503 with Retry-After is left alone until then, by every worker of every
-- process: no sync of any of its connections is sent before `until`.
CREATE TABLE bank_pauses (
    bank_id TEXT PRIMARY KEY,
    until TIMESTAMP NOT NULL,
    reason TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
