DROP TRIGGER transactions_feed_version ON transactions;
DROP FUNCTION transactions_bump_feed_version();
ALTER TABLE accounts DROP COLUMN feed_version;
