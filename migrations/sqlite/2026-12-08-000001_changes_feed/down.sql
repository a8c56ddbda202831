DROP INDEX transactions_updated_idx;
ALTER TABLE webhook_endpoints DROP COLUMN previous_secret_until;
ALTER TABLE webhook_endpoints DROP COLUMN previous_secret_sealed;
DROP INDEX transaction_changes_user_seq;
ALTER TABLE transaction_changes DROP COLUMN seq;
ALTER TABLE transaction_changes DROP COLUMN user_id;
DROP TABLE change_sequences;
