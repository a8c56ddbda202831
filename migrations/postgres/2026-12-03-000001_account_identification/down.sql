ALTER TABLE accounts DROP COLUMN linked_resource_id;
ALTER TABLE accounts DROP COLUMN identification;
ALTER TABLE accounts DROP COLUMN identification_scheme;
