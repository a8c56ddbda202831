DROP INDEX bank_responses_received_idx;
DROP INDEX bank_responses_run_idx;
ALTER TABLE bank_responses DROP COLUMN covered_from;
ALTER TABLE bank_responses DROP COLUMN account_key;
ALTER TABLE bank_responses DROP COLUMN sync_run_id;
DROP TABLE balance_continuity;
DROP TABLE transaction_changes;
ALTER TABLE sync_runs DROP COLUMN transactions_cancelled;
