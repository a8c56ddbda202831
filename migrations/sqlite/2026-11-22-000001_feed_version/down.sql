DROP TRIGGER transactions_feed_version_delete;
DROP TRIGGER transactions_feed_version_update;
DROP TRIGGER transactions_feed_version_insert;
ALTER TABLE accounts DROP COLUMN feed_version;
