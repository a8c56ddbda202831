-- A value per account that changes whenever one of its transactions is written: the API caches
-- serialized feed pages under (account, feed_version, query), so a page is served from memory only
-- while the rows behind it are unchanged. Triggers keep it (not the code that writes the rows), so
-- no writer can forget, whichever process or connection it runs in.
--
-- On PostgreSQL the value is the writing transaction's id (txid_current(), 64-bit, never reused):
-- a sync that writes thousands of rows in one transaction then updates the account row once, not
-- once per row. Each update writes a new row version under MVCC, and thousands of dead versions of
-- one hot row slowed every read of it until vacuum caught up. Two committed writers never share an
-- id, so a version names exactly one committed state of the account's transactions.
ALTER TABLE accounts ADD COLUMN feed_version BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION transactions_bump_feed_version() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE accounts SET feed_version = txid_current()
        WHERE id = NEW.account_id AND feed_version <> txid_current();
    END IF;
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.account_id <> NEW.account_id) THEN
        UPDATE accounts SET feed_version = txid_current()
        WHERE id = OLD.account_id AND feed_version <> txid_current();
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER transactions_feed_version AFTER INSERT OR UPDATE OR DELETE ON transactions
    FOR EACH ROW EXECUTE FUNCTION transactions_bump_feed_version();
