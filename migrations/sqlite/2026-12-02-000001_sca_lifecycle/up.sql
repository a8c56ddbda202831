-- The SCA challenge as a domain object with a lifecycle (created, awaiting_user, succeeded,
-- failed, expired, locked, consumed). Rows with a `kind` are challenges the API shows
-- (`GET /v1/sca/{id}`): a connect link is the journey's `redirect` challenge. Rows without one
-- (OAuth states, consent forms) are the journey's internal single-use secrets.
ALTER TABLE sca_challenges ADD COLUMN kind TEXT;
ALTER TABLE sca_challenges ADD COLUMN status TEXT NOT NULL DEFAULT 'created';
ALTER TABLE sca_challenges ADD COLUMN action TEXT;
-- The kind's public details as JSON (an OTP's expiry and attempts, a decoupled deadline, the
-- data to sign); never a secret.
ALTER TABLE sca_challenges ADD COLUMN details TEXT;
ALTER TABLE sca_challenges ADD COLUMN attempts_left INTEGER;
ALTER TABLE sca_challenges ADD COLUMN resolved_at TIMESTAMP;
-- RFC 8176 methods of a passed challenge, space-separated.
ALTER TABLE sca_challenges ADD COLUMN amr TEXT;
-- Why it failed (the journey's error code).
ALTER TABLE sca_challenges ADD COLUMN failure TEXT;
-- The last SCA's methods and the provider's session state (JSON), next to `sca_at`.
ALTER TABLE connections ADD COLUMN sca_amr TEXT;
ALTER TABLE connections ADD COLUMN sca_session TEXT;
