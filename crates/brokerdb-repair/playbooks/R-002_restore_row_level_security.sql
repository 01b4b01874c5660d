-- id: R-002
-- title: R-002_restore_row_level_security
-- required_after: table:tenants
SELECT 1;
