-- Generated from schema/expected.json by brokerdb-repair's `generate` module;
-- regenerate with BROKERDB_BLESS=1 (README: database repair console), never edit by hand.
-- id: R-004
-- title: Restore the runtime roles' privileges
-- description: Revokes every privilege of PUBLIC and of the runtime roles on the schema's tables, sequences and functions,
-- description: then grants exactly the privileges the migrations define, table by table and column by column, in one transaction.
-- description: Privileges of other roles are not touched: the doctor reports them for a manual fix.
-- required_before: table:admin_access_requests
-- required_before: table:admin_identities
-- required_before: table:admin_identity_role_bindings
-- required_before: table:admin_identity_tenant_scopes
-- required_before: table:admin_signup_policy
-- required_before: table:api_tokens
-- required_before: table:approval_requests
-- required_before: table:artifacts
-- required_before: table:audit_events
-- required_before: table:audit_redaction_profiles
-- required_before: table:audit_sealer_lock
-- required_before: table:audit_seals
-- required_before: table:crypto_verification_defaults
-- required_before: table:db_repair_runs
-- required_before: table:enrollment_tokens
-- required_before: table:human_user_roles
-- required_before: table:human_users
-- required_before: table:integrations
-- required_before: table:jobs
-- required_before: table:manifest_keyset_metadata
-- required_before: table:manifest_signing_keys
-- required_before: table:mcp_audit_log
-- required_before: table:policy_rules
-- required_before: table:projects
-- required_before: table:secret_versions
-- required_before: table:secrets
-- required_before: table:ssrf_guard_decisions
-- required_before: table:system_audit_events
-- required_before: table:system_audit_seals
-- required_before: table:template_invalidation_outbox
-- required_before: table:template_versions
-- required_before: table:tenants
-- required_before: table:webhook_events
-- required_before: table:workload_sessions
-- required_before: table:workloads
-- required_after: grant:brokerdb_system:DELETE:admin_access_requests
-- required_after: grant:brokerdb_system:INSERT:admin_access_requests
-- required_after: grant:brokerdb_system:SELECT:admin_access_requests
-- required_after: grant:brokerdb_system:UPDATE:admin_access_requests
-- required_after: grant:brokerdb_system:DELETE:admin_identities
-- required_after: grant:brokerdb_system:INSERT:admin_identities
-- required_after: grant:brokerdb_system:SELECT:admin_identities
-- required_after: grant:brokerdb_system:UPDATE:admin_identities
-- required_after: grant:brokerdb_system:DELETE:admin_identity_role_bindings
-- required_after: grant:brokerdb_system:INSERT:admin_identity_role_bindings
-- required_after: grant:brokerdb_system:SELECT:admin_identity_role_bindings
-- required_after: grant:brokerdb_system:UPDATE:admin_identity_role_bindings
-- required_after: grant:brokerdb_system:DELETE:admin_identity_tenant_scopes
-- required_after: grant:brokerdb_system:INSERT:admin_identity_tenant_scopes
-- required_after: grant:brokerdb_system:SELECT:admin_identity_tenant_scopes
-- required_after: grant:brokerdb_system:UPDATE:admin_identity_tenant_scopes
-- required_after: grant:brokerdb_system:DELETE:admin_signup_policy
-- required_after: grant:brokerdb_system:INSERT:admin_signup_policy
-- required_after: grant:brokerdb_system:SELECT:admin_signup_policy
-- required_after: grant:brokerdb_system:UPDATE:admin_signup_policy
-- required_after: grant:brokerdb_system:INSERT:api_tokens
-- required_after: grant:brokerdb_system:SELECT:api_tokens
-- required_after: grant:brokerdb_app:DELETE:approval_requests
-- required_after: grant:brokerdb_app:INSERT:approval_requests
-- required_after: grant:brokerdb_app:SELECT:approval_requests
-- required_after: grant:brokerdb_app:UPDATE:approval_requests
-- required_after: grant:brokerdb_system:DELETE:approval_requests
-- required_after: grant:brokerdb_system:INSERT:approval_requests
-- required_after: grant:brokerdb_system:SELECT:approval_requests
-- required_after: grant:brokerdb_system:UPDATE:approval_requests
-- required_after: grant:brokerdb_app:DELETE:artifacts
-- required_after: grant:brokerdb_app:INSERT:artifacts
-- required_after: grant:brokerdb_app:SELECT:artifacts
-- required_after: grant:brokerdb_app:UPDATE:artifacts
-- required_after: grant:brokerdb_system:DELETE:artifacts
-- required_after: grant:brokerdb_system:INSERT:artifacts
-- required_after: grant:brokerdb_system:SELECT:artifacts
-- required_after: grant:brokerdb_system:UPDATE:artifacts
-- required_after: grant:brokerdb_app:SELECT:audit_events
-- required_after: grant:brokerdb_system:SELECT:audit_events
-- required_after: grant:brokerdb_app:DELETE:audit_redaction_profiles
-- required_after: grant:brokerdb_app:INSERT:audit_redaction_profiles
-- required_after: grant:brokerdb_app:SELECT:audit_redaction_profiles
-- required_after: grant:brokerdb_app:UPDATE:audit_redaction_profiles
-- required_after: grant:brokerdb_system:DELETE:audit_redaction_profiles
-- required_after: grant:brokerdb_system:INSERT:audit_redaction_profiles
-- required_after: grant:brokerdb_system:SELECT:audit_redaction_profiles
-- required_after: grant:brokerdb_system:UPDATE:audit_redaction_profiles
-- required_after: grant:brokerdb_system:SELECT:audit_sealer_lock
-- required_after: grant:brokerdb_system:UPDATE:audit_sealer_lock
-- required_after: grant:brokerdb_system:INSERT:audit_seals
-- required_after: grant:brokerdb_system:SELECT:audit_seals
-- required_after: grant:brokerdb_app:DELETE:crypto_verification_defaults
-- required_after: grant:brokerdb_app:INSERT:crypto_verification_defaults
-- required_after: grant:brokerdb_app:SELECT:crypto_verification_defaults
-- required_after: grant:brokerdb_app:UPDATE:crypto_verification_defaults
-- required_after: grant:brokerdb_system:DELETE:crypto_verification_defaults
-- required_after: grant:brokerdb_system:INSERT:crypto_verification_defaults
-- required_after: grant:brokerdb_system:SELECT:crypto_verification_defaults
-- required_after: grant:brokerdb_system:UPDATE:crypto_verification_defaults
-- required_after: grant:brokerdb_system:INSERT:db_repair_runs
-- required_after: grant:brokerdb_system:SELECT:db_repair_runs
-- required_after: grant:brokerdb_app:DELETE:enrollment_tokens
-- required_after: grant:brokerdb_app:INSERT:enrollment_tokens
-- required_after: grant:brokerdb_app:SELECT:enrollment_tokens
-- required_after: grant:brokerdb_app:UPDATE:enrollment_tokens
-- required_after: grant:brokerdb_system:DELETE:enrollment_tokens
-- required_after: grant:brokerdb_system:INSERT:enrollment_tokens
-- required_after: grant:brokerdb_system:SELECT:enrollment_tokens
-- required_after: grant:brokerdb_system:UPDATE:enrollment_tokens
-- required_after: grant:brokerdb_app:DELETE:human_user_roles
-- required_after: grant:brokerdb_app:INSERT:human_user_roles
-- required_after: grant:brokerdb_app:SELECT:human_user_roles
-- required_after: grant:brokerdb_app:UPDATE:human_user_roles
-- required_after: grant:brokerdb_system:DELETE:human_user_roles
-- required_after: grant:brokerdb_system:INSERT:human_user_roles
-- required_after: grant:brokerdb_system:SELECT:human_user_roles
-- required_after: grant:brokerdb_system:UPDATE:human_user_roles
-- required_after: grant:brokerdb_app:DELETE:human_users
-- required_after: grant:brokerdb_app:INSERT:human_users
-- required_after: grant:brokerdb_app:SELECT:human_users
-- required_after: grant:brokerdb_app:UPDATE:human_users
-- required_after: grant:brokerdb_system:DELETE:human_users
-- required_after: grant:brokerdb_system:INSERT:human_users
-- required_after: grant:brokerdb_system:SELECT:human_users
-- required_after: grant:brokerdb_system:UPDATE:human_users
-- required_after: grant:brokerdb_app:DELETE:integrations
-- required_after: grant:brokerdb_app:INSERT:integrations
-- required_after: grant:brokerdb_app:SELECT:integrations
-- required_after: grant:brokerdb_app:UPDATE:integrations
-- required_after: grant:brokerdb_system:DELETE:integrations
-- required_after: grant:brokerdb_system:INSERT:integrations
-- required_after: grant:brokerdb_system:SELECT:integrations
-- required_after: grant:brokerdb_system:UPDATE:integrations
-- required_after: grant:brokerdb_system:DELETE:jobs
-- required_after: grant:brokerdb_system:INSERT:jobs
-- required_after: grant:brokerdb_system:SELECT:jobs
-- required_after: grant:brokerdb_system:DELETE:manifest_keyset_metadata
-- required_after: grant:brokerdb_system:INSERT:manifest_keyset_metadata
-- required_after: grant:brokerdb_system:SELECT:manifest_keyset_metadata
-- required_after: grant:brokerdb_system:UPDATE:manifest_keyset_metadata
-- required_after: grant:brokerdb_system:DELETE:manifest_signing_keys
-- required_after: grant:brokerdb_system:INSERT:manifest_signing_keys
-- required_after: grant:brokerdb_system:SELECT:manifest_signing_keys
-- required_after: grant:brokerdb_system:UPDATE:manifest_signing_keys
-- required_after: grant:brokerdb_app:INSERT:mcp_audit_log
-- required_after: grant:brokerdb_app:SELECT:mcp_audit_log
-- required_after: grant:brokerdb_system:INSERT:mcp_audit_log
-- required_after: grant:brokerdb_system:SELECT:mcp_audit_log
-- required_after: grant:brokerdb_app:DELETE:policy_rules
-- required_after: grant:brokerdb_app:INSERT:policy_rules
-- required_after: grant:brokerdb_app:SELECT:policy_rules
-- required_after: grant:brokerdb_app:UPDATE:policy_rules
-- required_after: grant:brokerdb_system:DELETE:policy_rules
-- required_after: grant:brokerdb_system:INSERT:policy_rules
-- required_after: grant:brokerdb_system:SELECT:policy_rules
-- required_after: grant:brokerdb_system:UPDATE:policy_rules
-- required_after: grant:brokerdb_app:DELETE:projects
-- required_after: grant:brokerdb_app:INSERT:projects
-- required_after: grant:brokerdb_app:SELECT:projects
-- required_after: grant:brokerdb_app:UPDATE:projects
-- required_after: grant:brokerdb_system:DELETE:projects
-- required_after: grant:brokerdb_system:INSERT:projects
-- required_after: grant:brokerdb_system:SELECT:projects
-- required_after: grant:brokerdb_system:UPDATE:projects
-- required_after: grant:brokerdb_app:DELETE:secret_versions
-- required_after: grant:brokerdb_app:INSERT:secret_versions
-- required_after: grant:brokerdb_app:SELECT:secret_versions
-- required_after: grant:brokerdb_app:UPDATE:secret_versions
-- required_after: grant:brokerdb_system:DELETE:secret_versions
-- required_after: grant:brokerdb_system:INSERT:secret_versions
-- required_after: grant:brokerdb_system:SELECT:secret_versions
-- required_after: grant:brokerdb_system:UPDATE:secret_versions
-- required_after: grant:brokerdb_app:DELETE:secrets
-- required_after: grant:brokerdb_app:INSERT:secrets
-- required_after: grant:brokerdb_app:SELECT:secrets
-- required_after: grant:brokerdb_app:UPDATE:secrets
-- required_after: grant:brokerdb_system:DELETE:secrets
-- required_after: grant:brokerdb_system:INSERT:secrets
-- required_after: grant:brokerdb_system:SELECT:secrets
-- required_after: grant:brokerdb_system:UPDATE:secrets
-- required_after: grant:brokerdb_app:INSERT:ssrf_guard_decisions
-- required_after: grant:brokerdb_app:SELECT:ssrf_guard_decisions
-- required_after: grant:brokerdb_system:INSERT:ssrf_guard_decisions
-- required_after: grant:brokerdb_system:SELECT:ssrf_guard_decisions
-- required_after: grant:brokerdb_system:SELECT:system_audit_events
-- required_after: grant:brokerdb_system:INSERT:system_audit_seals
-- required_after: grant:brokerdb_system:SELECT:system_audit_seals
-- required_after: grant:brokerdb_app:DELETE:template_invalidation_outbox
-- required_after: grant:brokerdb_app:INSERT:template_invalidation_outbox
-- required_after: grant:brokerdb_app:SELECT:template_invalidation_outbox
-- required_after: grant:brokerdb_app:UPDATE:template_invalidation_outbox
-- required_after: grant:brokerdb_system:DELETE:template_invalidation_outbox
-- required_after: grant:brokerdb_system:INSERT:template_invalidation_outbox
-- required_after: grant:brokerdb_system:SELECT:template_invalidation_outbox
-- required_after: grant:brokerdb_system:UPDATE:template_invalidation_outbox
-- required_after: grant:brokerdb_app:DELETE:template_versions
-- required_after: grant:brokerdb_app:INSERT:template_versions
-- required_after: grant:brokerdb_app:SELECT:template_versions
-- required_after: grant:brokerdb_app:UPDATE:template_versions
-- required_after: grant:brokerdb_system:DELETE:template_versions
-- required_after: grant:brokerdb_system:INSERT:template_versions
-- required_after: grant:brokerdb_system:SELECT:template_versions
-- required_after: grant:brokerdb_system:UPDATE:template_versions
-- required_after: grant:brokerdb_app:SELECT:tenants
-- required_after: grant:brokerdb_app:UPDATE:tenants
-- required_after: grant:brokerdb_system:DELETE:tenants
-- required_after: grant:brokerdb_system:INSERT:tenants
-- required_after: grant:brokerdb_system:SELECT:tenants
-- required_after: grant:brokerdb_system:UPDATE:tenants
-- required_after: grant:brokerdb_app:DELETE:webhook_events
-- required_after: grant:brokerdb_app:INSERT:webhook_events
-- required_after: grant:brokerdb_app:SELECT:webhook_events
-- required_after: grant:brokerdb_app:UPDATE:webhook_events
-- required_after: grant:brokerdb_system:DELETE:webhook_events
-- required_after: grant:brokerdb_system:INSERT:webhook_events
-- required_after: grant:brokerdb_system:SELECT:webhook_events
-- required_after: grant:brokerdb_system:UPDATE:webhook_events
-- required_after: grant:brokerdb_app:DELETE:workload_sessions
-- required_after: grant:brokerdb_app:INSERT:workload_sessions
-- required_after: grant:brokerdb_app:SELECT:workload_sessions
-- required_after: grant:brokerdb_app:UPDATE:workload_sessions
-- required_after: grant:brokerdb_system:DELETE:workload_sessions
-- required_after: grant:brokerdb_system:INSERT:workload_sessions
-- required_after: grant:brokerdb_system:SELECT:workload_sessions
-- required_after: grant:brokerdb_system:UPDATE:workload_sessions
-- required_after: grant:brokerdb_app:DELETE:workloads
-- required_after: grant:brokerdb_app:INSERT:workloads
-- required_after: grant:brokerdb_app:SELECT:workloads
-- required_after: grant:brokerdb_app:UPDATE:workloads
-- required_after: grant:brokerdb_system:DELETE:workloads
-- required_after: grant:brokerdb_system:INSERT:workloads
-- required_after: grant:brokerdb_system:SELECT:workloads
-- required_after: grant:brokerdb_system:UPDATE:workloads

REVOKE ALL ON public.admin_access_requests, public.admin_identities, public.admin_identity_role_bindings, public.admin_identity_tenant_scopes, public.admin_signup_policy, public.api_tokens, public.approval_requests, public.artifacts, public.audit_events, public.audit_redaction_profiles, public.audit_sealer_lock, public.audit_seals, public.crypto_verification_defaults, public.db_repair_runs, public.enrollment_tokens, public.human_user_roles, public.human_users, public.integrations, public.jobs, public.manifest_keyset_metadata, public.manifest_signing_keys, public.mcp_audit_log, public.policy_rules, public.projects, public.secret_versions, public.secrets, public.ssrf_guard_decisions, public.system_audit_events, public.system_audit_seals, public.template_invalidation_outbox, public.template_versions, public.tenants, public.webhook_events, public.workload_sessions, public.workloads FROM PUBLIC, brokerdb_app, brokerdb_system;

REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM PUBLIC, brokerdb_app, brokerdb_system;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC, brokerdb_app, brokerdb_system;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.admin_access_requests TO brokerdb_system;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.admin_identities TO brokerdb_system;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.admin_identity_role_bindings TO brokerdb_system;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.admin_identity_tenant_scopes TO brokerdb_system;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.admin_signup_policy TO brokerdb_system;

GRANT INSERT, SELECT ON public.api_tokens TO brokerdb_system;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.approval_requests TO brokerdb_app;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.approval_requests TO brokerdb_system;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.artifacts TO brokerdb_app;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.artifacts TO brokerdb_system;

GRANT SELECT ON public.audit_events TO brokerdb_app;

GRANT SELECT ON public.audit_events TO brokerdb_system;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.audit_redaction_profiles TO brokerdb_app;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.audit_redaction_profiles TO brokerdb_system;

GRANT SELECT, UPDATE ON public.audit_sealer_lock TO brokerdb_system;

GRANT INSERT, SELECT ON public.audit_seals TO brokerdb_system;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.crypto_verification_defaults TO brokerdb_app;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.crypto_verification_defaults TO brokerdb_system;

GRANT INSERT, SELECT ON public.db_repair_runs TO brokerdb_system;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.enrollment_tokens TO brokerdb_app;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.enrollment_tokens TO brokerdb_system;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.human_user_roles TO brokerdb_app;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.human_user_roles TO brokerdb_system;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.human_users TO brokerdb_app;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.human_users TO brokerdb_system;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.integrations TO brokerdb_app;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.integrations TO brokerdb_system;

GRANT DELETE, INSERT, SELECT ON public.jobs TO brokerdb_system;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.manifest_keyset_metadata TO brokerdb_system;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.manifest_signing_keys TO brokerdb_system;

GRANT INSERT, SELECT ON public.mcp_audit_log TO brokerdb_app;

GRANT INSERT, SELECT ON public.mcp_audit_log TO brokerdb_system;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.policy_rules TO brokerdb_app;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.policy_rules TO brokerdb_system;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.projects TO brokerdb_app;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.projects TO brokerdb_system;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.secret_versions TO brokerdb_app;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.secret_versions TO brokerdb_system;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.secrets TO brokerdb_app;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.secrets TO brokerdb_system;

GRANT INSERT, SELECT ON public.ssrf_guard_decisions TO brokerdb_app;

GRANT INSERT, SELECT ON public.ssrf_guard_decisions TO brokerdb_system;

GRANT SELECT ON public.system_audit_events TO brokerdb_system;

GRANT INSERT, SELECT ON public.system_audit_seals TO brokerdb_system;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.template_invalidation_outbox TO brokerdb_app;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.template_invalidation_outbox TO brokerdb_system;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.template_versions TO brokerdb_app;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.template_versions TO brokerdb_system;

GRANT SELECT, UPDATE ON public.tenants TO brokerdb_app;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.tenants TO brokerdb_system;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.webhook_events TO brokerdb_app;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.webhook_events TO brokerdb_system;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.workload_sessions TO brokerdb_app;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.workload_sessions TO brokerdb_system;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.workloads TO brokerdb_app;

GRANT DELETE, INSERT, SELECT, UPDATE ON public.workloads TO brokerdb_system;

GRANT UPDATE (last_used_at, revoked_at) ON public.api_tokens TO brokerdb_system;

GRANT INSERT (action_group, correlation_id, decision, event_id, event_json, event_type, integration_id, latency_ms, risk_tier, tenant_id, timestamp, upstream_status_code, workload_id) ON public.audit_events TO brokerdb_app;

GRANT INSERT (action_group, correlation_id, decision, event_id, event_json, event_type, integration_id, latency_ms, risk_tier, tenant_id, timestamp, upstream_status_code, workload_id) ON public.audit_events TO brokerdb_system;

GRANT UPDATE (attempts, finished_at, last_error, lock_token, locked_until, run_at, status, updated_at) ON public.jobs TO brokerdb_system;

GRANT INSERT (action, actor, correlation_id, event_id, event_json, timestamp) ON public.system_audit_events TO brokerdb_system;
