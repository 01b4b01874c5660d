-- 0005 row-level security on every table that has a tenant_id column (tenants included).
--
-- ENABLE + FORCE: the policy applies to the table owner too; only BYPASSRLS roles (brokerdb_system,
-- superusers) see past it. The policy reads the transaction-local setting brokerdb.tenant_id
-- (set_config('brokerdb.tenant_id', $1, true)). Unset or empty => NULL => no row matches and no
-- row passes WITH CHECK: reads return nothing, writes are refused (fail closed).
-- The expression is inline (not wrapped in a function) so the planner uses it as an index
-- condition on the leading tenant_id column; current_setting() is STABLE, evaluated once per scan.
SET LOCAL ROLE brokerdb_owner;

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
    USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''))
    WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''));

ALTER TABLE admin_identity_tenant_scopes ENABLE ROW LEVEL SECURITY;
ALTER TABLE admin_identity_tenant_scopes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON admin_identity_tenant_scopes
    USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''))
    WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''));

ALTER TABLE human_users ENABLE ROW LEVEL SECURITY;
ALTER TABLE human_users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON human_users
    USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''))
    WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''));

ALTER TABLE human_user_roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE human_user_roles FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON human_user_roles
    USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''))
    WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''));

ALTER TABLE workloads ENABLE ROW LEVEL SECURITY;
ALTER TABLE workloads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON workloads
    USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''))
    WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''));

ALTER TABLE enrollment_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE enrollment_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON enrollment_tokens
    USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''))
    WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''));

ALTER TABLE workload_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE workload_sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON workload_sessions
    USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''))
    WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''));

ALTER TABLE integrations ENABLE ROW LEVEL SECURITY;
ALTER TABLE integrations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON integrations
    USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''))
    WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''));

ALTER TABLE secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE secrets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON secrets
    USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''))
    WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''));

ALTER TABLE secret_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE secret_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON secret_versions
    USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''))
    WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''));

ALTER TABLE crypto_verification_defaults ENABLE ROW LEVEL SECURITY;
ALTER TABLE crypto_verification_defaults FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON crypto_verification_defaults
    USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''))
    WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''));

ALTER TABLE template_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE template_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON template_versions
    USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''))
    WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''));

ALTER TABLE policy_rules ENABLE ROW LEVEL SECURITY;
ALTER TABLE policy_rules FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON policy_rules
    USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''))
    WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''));

ALTER TABLE approval_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE approval_requests FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON approval_requests
    USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''))
    WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''));

ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_events
    USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''))
    WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''));

ALTER TABLE ssrf_guard_decisions ENABLE ROW LEVEL SECURITY;
ALTER TABLE ssrf_guard_decisions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ssrf_guard_decisions
    USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''))
    WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''));

ALTER TABLE template_invalidation_outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE template_invalidation_outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON template_invalidation_outbox
    USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''))
    WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''));

ALTER TABLE audit_redaction_profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_redaction_profiles FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_redaction_profiles
    USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''))
    WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''));

RESET ROLE;
