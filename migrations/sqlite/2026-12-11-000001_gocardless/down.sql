DROP TABLE gocardless_requisitions;
DROP TABLE gocardless_agreements;
DROP TABLE gocardless_tokens;
DROP TABLE gocardless_secrets;
