-- Passerelle's whole schema, designed once for the product so later work extends it.
-- Conventions: ids are text (UUIDs, or the bank's own keys); money is BIGINT minor units plus an
-- ISO 4217 code; every timestamp is UTC (`TIMESTAMP` without zone, written in UTC by the code).
-- The PostgreSQL twin of this file carries the same tables, columns and constraints.

-- Tenants: each budgeting app is an API client with its own keys and redirect allow-list.
CREATE TABLE api_clients (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    redirect_allowlist TEXT NOT NULL DEFAULT '[]',
    created_at TIMESTAMP NOT NULL,
    disabled_at TIMESTAMP
);

-- Only a hash of each API key is stored; the prefix finds the row without scanning.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    api_client_id TEXT NOT NULL REFERENCES api_clients (id) ON DELETE CASCADE,
    prefix TEXT NOT NULL UNIQUE,
    key_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);

-- End users (PSUs), keyed by the app's own id for them.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    api_client_id TEXT NOT NULL REFERENCES api_clients (id) ON DELETE CASCADE,
    external_id TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (api_client_id, external_id)
);

-- One connection = one user at one bank, with its consent lifetime.
CREATE TABLE connections (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    bank_id TEXT NOT NULL,
    status TEXT NOT NULL,
    scopes TEXT NOT NULL DEFAULT '',
    redirect_url TEXT NOT NULL,
    sca_at TIMESTAMP,
    consent_expires_at TIMESTAMP,
    last_synced_at TIMESTAMP,
    error_code TEXT,
    -- The refresh lease: whoever holds it may spend the refresh token (single-flight across processes).
    lease_owner TEXT,
    lease_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX connections_user_idx ON connections (user_id);

-- Access and refresh tokens, sealed (AES-256-GCM blob carrying its key id).
CREATE TABLE tokens (
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    sealed BLOB NOT NULL,
    key_id TEXT NOT NULL,
    expires_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (connection_id, kind)
);

-- Every consent sent to a bank is a version; the newest unsuperseded row is in force.
CREATE TABLE consents (
    id TEXT PRIMARY KEY,
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    balances_ibans TEXT NOT NULL DEFAULT '[]',
    transactions_ibans TEXT NOT NULL DEFAULT '[]',
    psu_identity BOOLEAN NOT NULL DEFAULT 0,
    trusted_beneficiaries BOOLEAN NOT NULL DEFAULT 0,
    granted_at TIMESTAMP NOT NULL,
    superseded_at TIMESTAMP,
    UNIQUE (connection_id, version)
);

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    -- The bank's key for the account: the IBAN where there is one (BPCE: "IBAN is the key").
    account_key TEXT NOT NULL,
    bank_resource_id TEXT,
    iban TEXT,
    iban_valid BOOLEAN NOT NULL DEFAULT 0,
    name TEXT NOT NULL,
    currency TEXT NOT NULL,
    cash_account_type TEXT NOT NULL,
    usage TEXT,
    product TEXT,
    status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (connection_id, account_key)
);

-- One snapshot per account, balance type and bank calendar day: the history behind the charts.
CREATE TABLE balances (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    balance_type TEXT NOT NULL,
    name TEXT,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    reference_date TIMESTAMP,
    as_of_day DATE NOT NULL,
    fetched_at TIMESTAMP NOT NULL,
    UNIQUE (account_id, balance_type, as_of_day)
);

CREATE TABLE transactions (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- entryReference where the bank gives one, otherwise a fingerprint with an occurrence index.
    fingerprint TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    booking_date DATE,
    value_date DATE,
    transaction_date DATE,
    -- The date the feed sorts on: booking date, else transaction or value date, else first seen.
    sort_date DATE NOT NULL,
    description TEXT NOT NULL,
    bank_transaction_code TEXT,
    entry_reference TEXT,
    bank_resource_id TEXT,
    first_seen_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (account_id, fingerprint)
);
-- The API lists newest first with a keyset cursor on (sort date, id).
CREATE INDEX transactions_feed_idx ON transactions (account_id, sort_date DESC, id DESC);

CREATE TABLE sync_runs (
    id TEXT PRIMARY KEY,
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    trigger_kind TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    error TEXT,
    transactions_added BIGINT NOT NULL DEFAULT 0,
    transactions_updated BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX sync_runs_connection_idx ON sync_runs (connection_id, started_at);

-- Unattended calls spent per bank endpoint, client id, PSU, IBAN, method and bank calendar day.
CREATE TABLE quota_ledger (
    bank_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    psu_id TEXT NOT NULL,
    iban TEXT NOT NULL,
    method TEXT NOT NULL,
    day DATE NOT NULL,
    calls BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (bank_id, client_id, psu_id, iban, method, day)
);

-- The durable job queue: claimed by lease, run outside the claim's transaction.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    dedup_key TEXT UNIQUE,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    run_at TIMESTAMP NOT NULL,
    locked_by TEXT,
    locked_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX jobs_due_idx ON jobs (status, run_at);

CREATE TABLE payments (
    id TEXT PRIMARY KEY,
    api_client_id TEXT NOT NULL REFERENCES api_clients (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    bank_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    creditor_name TEXT NOT NULL,
    creditor_iban TEXT NOT NULL,
    debtor_iban TEXT,
    remittance TEXT NOT NULL,
    end_to_end_id TEXT NOT NULL,
    status TEXT NOT NULL,
    bank_payment_id TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (api_client_id, idempotency_key)
);

-- A redirect to the bank in flight: the OAuth state (hashed), single-use, short-lived.
CREATE TABLE sca_challenges (
    id TEXT PRIMARY KEY,
    purpose TEXT NOT NULL,
    connection_id TEXT REFERENCES connections (id) ON DELETE CASCADE,
    payment_id TEXT REFERENCES payments (id) ON DELETE CASCADE,
    state_hash TEXT NOT NULL UNIQUE,
    pkce_verifier_sealed BLOB,
    expires_at TIMESTAMP NOT NULL,
    consumed_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    api_client_id TEXT NOT NULL REFERENCES api_clients (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    secret_sealed BLOB NOT NULL,
    event_types TEXT NOT NULL DEFAULT '[]',
    created_at TIMESTAMP NOT NULL,
    disabled_at TIMESTAMP
);

-- Events written in the same transaction as the change they announce, delivered later.
CREATE TABLE outbox_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    api_client_id TEXT NOT NULL REFERENCES api_clients (id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    event_id BIGINT NOT NULL REFERENCES outbox_events (id) ON DELETE CASCADE,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    last_status_code INTEGER,
    delivered_at TIMESTAMP,
    UNIQUE (event_id, endpoint_id)
);

-- Append-only: consent changes and other acts worth proving later.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    api_client_id TEXT,
    connection_id TEXT,
    details TEXT NOT NULL
);
CREATE INDEX audit_log_connection_idx ON audit_log (connection_id, at);

-- Raw bank response bodies, for diagnosis and re-normalization.
CREATE TABLE bank_responses (
    id TEXT PRIMARY KEY,
    bank_id TEXT NOT NULL,
    connection_id TEXT REFERENCES connections (id) ON DELETE CASCADE,
    method TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    x_request_id TEXT NOT NULL,
    body BLOB NOT NULL,
    received_at TIMESTAMP NOT NULL
);
CREATE INDEX bank_responses_connection_idx ON bank_responses (connection_id, received_at);
