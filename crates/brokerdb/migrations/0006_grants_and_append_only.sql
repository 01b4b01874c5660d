-- 0006 table privileges of the runtime roles, and append-only enforcement of the audit tables.
-- The grants matrix is documented in README.md. PUBLIC holds no table privileges (default).
SET LOCAL ROLE brokerdb_owner;

-- ---------------------------------------------------------------------------------------------
-- brokerdb_app: the tenant scope (RLS applies). Tenant tables only; no global admin/manifest data.
GRANT SELECT, UPDATE ON tenants TO brokerdb_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON
    human_users,
    human_user_roles,
    workloads,
    enrollment_tokens,
    workload_sessions,
    integrations,
    secrets,
    secret_versions,
    crypto_verification_defaults,
    template_versions,
    policy_rules,
    approval_requests,
    template_invalidation_outbox,
    audit_redaction_profiles
TO brokerdb_app;
GRANT SELECT, INSERT ON audit_events, ssrf_guard_decisions TO brokerdb_app;
-- admin_identity_tenant_scopes, admin_*, manifest_*: nothing.

-- ---------------------------------------------------------------------------------------------
-- brokerdb_system: the system scope (BYPASSRLS). Every table; audit tables append-only.
GRANT SELECT, INSERT, UPDATE, DELETE ON
    admin_signup_policy,
    admin_identities,
    admin_identity_role_bindings,
    admin_identity_tenant_scopes,
    admin_access_requests,
    manifest_signing_keys,
    manifest_keyset_metadata,
    tenants,
    human_users,
    human_user_roles,
    workloads,
    enrollment_tokens,
    workload_sessions,
    integrations,
    secrets,
    secret_versions,
    crypto_verification_defaults,
    template_versions,
    policy_rules,
    approval_requests,
    template_invalidation_outbox,
    audit_redaction_profiles
TO brokerdb_system;
GRANT SELECT, INSERT ON audit_events, ssrf_guard_decisions TO brokerdb_system;

-- ---------------------------------------------------------------------------------------------
-- Append-only: these triggers fire for every role, superusers included. Getting past them needs
-- ALTER TABLE ... DISABLE TRIGGER (table owner or superuser); the per-tenant audit hash chain
-- (DESIGN decision 5, a later migration) is what detects edits made that way.
CREATE TRIGGER trg_audit_events_forbid_mutation
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION brokerdb_forbid_mutation();
CREATE TRIGGER trg_audit_events_forbid_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION brokerdb_forbid_mutation();

CREATE TRIGGER trg_ssrf_guard_decisions_forbid_mutation
    BEFORE UPDATE OR DELETE ON ssrf_guard_decisions
    FOR EACH ROW EXECUTE FUNCTION brokerdb_forbid_mutation();
CREATE TRIGGER trg_ssrf_guard_decisions_forbid_truncate
    BEFORE TRUNCATE ON ssrf_guard_decisions
    FOR EACH STATEMENT EXECUTE FUNCTION brokerdb_forbid_mutation();

RESET ROLE;
