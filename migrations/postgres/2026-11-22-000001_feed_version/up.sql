-- A value per account that changes whenever one of its transactions is written: the API caches
-- serialized feed pages under (account, feed_version, query), so a page is served from memory only
-- while the rows behind it are unchanged. Triggers keep it (not the code that writes the rows), so
-- no writer can forget, whichever process or connection it runs in.
--
-- The value is random (64 bits), drawn once per writing transaction and kept in a transaction-local
-- setting: a sync that writes thousands of rows updates the account row once, not once per row
-- (each update leaves a dead row version behind under MVCC), and a value never names two states,
-- even after a restore or a failover that replays transaction ids a counter or txid_current()
-- would hand out again. The triggers are per statement: a cascade that deletes an account's
-- transactions runs one update, not one per row.
ALTER TABLE accounts ADD COLUMN feed_version BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION transactions_feed_version_value() RETURNS bigint AS $$
DECLARE
    current text := current_setting('passerelle.feed_version', true);
    drawn bigint;
BEGIN
    IF current IS NOT NULL AND current <> '' THEN
        RETURN current::bigint;
    END IF;
    drawn := ('x' || substr(md5(gen_random_uuid()::text), 1, 16))::bit(64)::bigint;
    PERFORM set_config('passerelle.feed_version', drawn::text, true);
    RETURN drawn;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION transactions_bump_feed_version() RETURNS trigger AS $$
DECLARE
    v bigint := transactions_feed_version_value();
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE accounts SET feed_version = v
        WHERE id IN (SELECT account_id FROM new_rows) AND feed_version <> v;
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE accounts SET feed_version = v
        WHERE id IN (SELECT account_id FROM new_rows UNION SELECT account_id FROM old_rows)
          AND feed_version <> v;
    ELSE
        UPDATE accounts SET feed_version = v
        WHERE id IN (SELECT account_id FROM old_rows) AND feed_version <> v;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER transactions_feed_version_insert AFTER INSERT ON transactions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION transactions_bump_feed_version();
CREATE TRIGGER transactions_feed_version_update AFTER UPDATE ON transactions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION transactions_bump_feed_version();
CREATE TRIGGER transactions_feed_version_delete AFTER DELETE ON transactions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION transactions_bump_feed_version();
