-- 0013 indexes for the filtered lists at scale: each equality filter of the approvals list and the
-- audit query gets an index that ends with the list's order and its tie-break, so a filtered
-- page (and a page after a cursor) is one index range read in order that stops at the limit,
-- whatever the tenant's size; the admin listings' tenant, role and search filters get indexes
-- that find rare values without reading every row. The plan guards (tests/it/list_plans) check
-- every shape.
SET LOCAL ROLE brokerdb_owner;

-- Approvals list with a status (`WHERE tenant_id = $1 AND status = $2 ORDER BY created_at DESC,
-- approval_id DESC`): idx_approval_requests_tenant_created alone reads the whole tenant in order
-- and filters it, which for a rare status (pending is a few percent of a tenant's approvals) is
-- most of the tenant for one page. enum_eq is LEAKPROOF since 0012, so under row-level security
-- the status is an index condition.
CREATE INDEX idx_approval_requests_tenant_status_created
    ON approval_requests (tenant_id, status, created_at DESC, approval_id DESC);

-- Audit query filtered by workload, integration, action group or decision: the filter indexes of
-- 0004 end with "timestamp" DESC but not with the event_id tie-break, so a page needed a sort of
-- each timestamp's ties and a page after a cursor could only use the cursor's timestamp, not
-- `("timestamp", event_id) < ($n, $m)`, as its index bound. Same names (the original's), one more
-- column.
DROP INDEX idx_audit_events_tenant_workload_timestamp;
CREATE INDEX idx_audit_events_tenant_workload_timestamp
    ON audit_events (tenant_id, workload_id, "timestamp" DESC, event_id DESC);
DROP INDEX idx_audit_events_tenant_integration_timestamp;
CREATE INDEX idx_audit_events_tenant_integration_timestamp
    ON audit_events (tenant_id, integration_id, "timestamp" DESC, event_id DESC);
DROP INDEX idx_audit_events_tenant_action_group_timestamp;
CREATE INDEX idx_audit_events_tenant_action_group_timestamp
    ON audit_events (tenant_id, action_group, "timestamp" DESC, event_id DESC);
DROP INDEX idx_audit_events_tenant_decision_timestamp;
CREATE INDEX idx_audit_events_tenant_decision_timestamp
    ON audit_events (tenant_id, decision, "timestamp" DESC, event_id DESC);

-- Admin listings (global tables, system role: no row-level security here).
-- Access requests of a tenant or a role: `requested_tenant_ids @> ARRAY[$n]` and
-- `requested_roles @> ARRAY[$n]` (the listing's form of `= ANY`, which no index serves). Without
-- these, a rare tenant or role is found by reading every request.
CREATE INDEX idx_admin_access_requests_requested_tenants
    ON admin_access_requests USING gin (requested_tenant_ids);
CREATE INDEX idx_admin_access_requests_requested_roles
    ON admin_access_requests USING gin (requested_roles);

-- Search (case-insensitive substring of email, name, subject, and the request id for requests):
-- trigram indexes per column, which the planner combines for the OR (pg_trgm is there since
-- 0012). Without them a rare pattern reads every row.
-- The operator class from the schema pg_trgm is in (0012 installs it in brokerdb_ext; an existing
-- installation stays where it is), an identifier from the catalog quoted by format's %I.
DO $trgm$
DECLARE
    ext_schema text := (SELECT n.nspname FROM pg_catalog.pg_extension e
                          JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
                         WHERE e.extname = 'pg_trgm');
    target text[];
BEGIN
    FOREACH target SLICE 1 IN ARRAY ARRAY[
        ['idx_admin_identities_email_trgm', 'admin_identities', 'email'],
        ['idx_admin_identities_name_trgm', 'admin_identities', 'name'],
        ['idx_admin_identities_subject_trgm', 'admin_identities', 'subject'],
        ['idx_admin_access_requests_email_trgm', 'admin_access_requests', 'email'],
        ['idx_admin_access_requests_name_trgm', 'admin_access_requests', 'name'],
        ['idx_admin_access_requests_subject_trgm', 'admin_access_requests', 'subject'],
        ['idx_admin_access_requests_request_id_trgm', 'admin_access_requests', 'request_id']
    ] LOOP
        EXECUTE format('CREATE INDEX %I ON %I USING gin (%I %I.gin_trgm_ops)',
                       target[1], target[2], target[3], ext_schema);
    END LOOP;
END
$trgm$;

RESET ROLE;
