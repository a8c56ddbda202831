-- A value per account that changes whenever one of its transactions is written: the API caches
-- serialized feed pages under (account, feed_version, query), so a page is served from memory only
-- while the rows behind it are unchanged. Triggers keep it (not the code that writes the rows), so
-- no writer can forget, whichever process or connection it runs in.
--
-- The value is random (64 bits) rather than a counter, so that it never names two states, even
-- after the database file is restored from a backup while a process that cached pages runs on.
-- SQLite updates the row in place, so one update per written row costs no dead row versions.
ALTER TABLE accounts ADD COLUMN feed_version BIGINT NOT NULL DEFAULT 0;

CREATE TRIGGER transactions_feed_version_insert AFTER INSERT ON transactions
BEGIN
    UPDATE accounts SET feed_version = random() WHERE id = NEW.account_id;
END;

CREATE TRIGGER transactions_feed_version_update AFTER UPDATE ON transactions
BEGIN
    UPDATE accounts SET feed_version = random()
    WHERE id = NEW.account_id OR id = OLD.account_id;
END;

CREATE TRIGGER transactions_feed_version_delete AFTER DELETE ON transactions
BEGIN
    UPDATE accounts SET feed_version = random() WHERE id = OLD.account_id;
END;
