-- A GoCardless Bank Account Data-compatible API (issue 18): secret pairs minted for an API
-- client (the key hashed), the tokens they get (hashed: checked against the store, so revoking
-- the pair stops them at once), end-user agreements and requisitions (each a connection).
CREATE TABLE gocardless_secrets (
    id TEXT PRIMARY KEY,
    api_client_id TEXT NOT NULL REFERENCES api_clients (id) ON DELETE CASCADE,
    secret_key_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE TABLE gocardless_tokens (
    token_hash TEXT PRIMARY KEY,
    secret_id TEXT NOT NULL REFERENCES gocardless_secrets (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE gocardless_agreements (
    id TEXT PRIMARY KEY,
    api_client_id TEXT NOT NULL REFERENCES api_clients (id) ON DELETE CASCADE,
    institution_id TEXT NOT NULL,
    max_historical_days INTEGER NOT NULL,
    access_valid_for_days INTEGER NOT NULL,
    access_scope TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE gocardless_requisitions (
    id TEXT PRIMARY KEY,
    api_client_id TEXT NOT NULL REFERENCES api_clients (id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    institution_id TEXT NOT NULL,
    agreement_id TEXT,
    redirect TEXT NOT NULL,
    reference TEXT NOT NULL,
    user_language TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX gocardless_requisitions_client ON gocardless_requisitions (api_client_id, created_at);
