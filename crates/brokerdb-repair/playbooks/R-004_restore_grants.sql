-- id: R-004
-- title: R-004_restore_grants
-- required_after: table:tenants
SELECT 1;
