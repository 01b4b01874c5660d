-- 0016 a workload's sessions in list order: `sessions::list_by_workload` reads newest first with
-- a keyset cursor on (created_at, session_id). The index replaces (tenant_id, workload_id), which
-- found the rows but left every session of the workload to be sorted for each page.
SET LOCAL ROLE brokerdb_owner;

CREATE INDEX idx_workload_sessions_tenant_workload_created
    ON workload_sessions (tenant_id, workload_id, created_at DESC, session_id DESC);
DROP INDEX idx_workload_sessions_tenant_workload;

RESET ROLE;
