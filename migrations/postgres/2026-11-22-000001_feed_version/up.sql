-- A counter per account that moves whenever one of its transactions is written: the API caches
-- serialized feed pages under (account, feed_version, query), so a page is served from memory only
-- while the rows behind it are unchanged. Triggers keep it (not the code that writes the rows), so
-- no writer can forget, whichever process or connection it runs in.
ALTER TABLE accounts ADD COLUMN feed_version BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION transactions_bump_feed_version() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE accounts SET feed_version = feed_version + 1 WHERE id = NEW.account_id;
    END IF;
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.account_id <> NEW.account_id) THEN
        UPDATE accounts SET feed_version = feed_version + 1 WHERE id = OLD.account_id;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER transactions_feed_version AFTER INSERT OR UPDATE OR DELETE ON transactions
    FOR EACH ROW EXECUTE FUNCTION transactions_bump_feed_version();
