-- How the bank identifies an account: an IBAN, or for an account without one (a card account)
-- the bank's other identification under its scheme (STET `accountId.other`, e.g. `CPAN` and a
-- masked card number); and, for a card account, the bank's `resourceId` of the account it is
-- debited from (`linkedAccount`).
ALTER TABLE accounts ADD COLUMN identification_scheme TEXT;
ALTER TABLE accounts ADD COLUMN identification TEXT;
ALTER TABLE accounts ADD COLUMN linked_resource_id TEXT;
UPDATE accounts SET identification_scheme = 'iban', identification = iban WHERE iban IS NOT NULL;
