-- SimpleFIN Bridge accesses (issue 18): a one-time claim token (hashed) that an app trades for
-- HTTP Basic credentials (the password hashed), revocable, with its last use.
CREATE TABLE simplefin_accesses (
    id TEXT PRIMARY KEY,
    api_client_id TEXT NOT NULL REFERENCES api_clients (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    claim_hash TEXT NOT NULL UNIQUE,
    claim_expires_at TIMESTAMP NOT NULL,
    claimed_at TIMESTAMP,
    username TEXT UNIQUE,
    secret_hash TEXT,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX simplefin_accesses_user ON simplefin_accesses (user_id, created_at);
