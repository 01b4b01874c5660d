-- id: R-003
-- title: R-003_restore_functions_and_triggers
-- required_after: table:tenants
SELECT 1;
