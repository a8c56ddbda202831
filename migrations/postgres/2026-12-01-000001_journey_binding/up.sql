-- The journey binds to the browser that started it: the SHA-256 of a random value kept in an
-- HttpOnly cookie, stored with each state and consent form, and with the connection for the
-- browser that passed the last SCA (a consent change without a new SCA needs that browser back
-- within minutes). `proof` says how a consent form was reached: `sca` or `same_browser`.
ALTER TABLE sca_challenges ADD COLUMN browser_hash TEXT;
ALTER TABLE sca_challenges ADD COLUMN proof TEXT;
ALTER TABLE connections ADD COLUMN sca_browser_hash TEXT;
