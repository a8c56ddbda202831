DROP TRIGGER transactions_feed_version_delete ON transactions;
DROP TRIGGER transactions_feed_version_update ON transactions;
DROP TRIGGER transactions_feed_version_insert ON transactions;
DROP FUNCTION transactions_bump_feed_version();
DROP FUNCTION transactions_feed_version_value();
ALTER TABLE accounts DROP COLUMN feed_version;
