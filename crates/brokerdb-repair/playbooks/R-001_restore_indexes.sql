-- id: R-001
-- title: R-001_restore_indexes
-- required_after: table:tenants
SELECT 1;
