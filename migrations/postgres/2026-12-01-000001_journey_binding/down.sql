ALTER TABLE connections DROP COLUMN sca_browser_hash;
ALTER TABLE sca_challenges DROP COLUMN proof;
ALTER TABLE sca_challenges DROP COLUMN browser_hash;
