-- Generated from schema/expected.json by brokerdb-repair's `generate` module;
-- regenerate with BROKERDB_BLESS=1 (README: database repair console), never edit by hand.
-- id: R-002
-- title: Restore row-level security and its policies
-- description: Enables and forces row-level security on every table where the migrations do, creates each missing policy,
-- description: and resets every expected policy's roles and expressions (ALTER POLICY).
-- description: A policy the migrations do not define is not removed: the doctor reports it for a manual fix.
-- required_before: table:admin_identity_tenant_scopes
-- required_before: table:api_tokens
-- required_before: table:approval_requests
-- required_before: table:artifacts
-- required_before: table:audit_events
-- required_before: table:audit_redaction_profiles
-- required_before: table:audit_seals
-- required_before: table:crypto_verification_defaults
-- required_before: table:enrollment_tokens
-- required_before: table:human_user_roles
-- required_before: table:human_users
-- required_before: table:integrations
-- required_before: table:jobs
-- required_before: table:mcp_audit_log
-- required_before: table:policy_rules
-- required_before: table:projects
-- required_before: table:secret_versions
-- required_before: table:secrets
-- required_before: table:ssrf_guard_decisions
-- required_before: table:template_invalidation_outbox
-- required_before: table:template_versions
-- required_before: table:tenants
-- required_before: table:webhook_events
-- required_before: table:workload_sessions
-- required_before: table:workloads
-- required_after: rls:admin_identity_tenant_scopes
-- required_after: rls:api_tokens
-- required_after: rls:approval_requests
-- required_after: rls:artifacts
-- required_after: rls:audit_events
-- required_after: rls:audit_redaction_profiles
-- required_after: rls:audit_seals
-- required_after: rls:crypto_verification_defaults
-- required_after: rls:enrollment_tokens
-- required_after: rls:human_user_roles
-- required_after: rls:human_users
-- required_after: rls:integrations
-- required_after: rls:jobs
-- required_after: rls:mcp_audit_log
-- required_after: rls:policy_rules
-- required_after: rls:projects
-- required_after: rls:secret_versions
-- required_after: rls:secrets
-- required_after: rls:ssrf_guard_decisions
-- required_after: rls:template_invalidation_outbox
-- required_after: rls:template_versions
-- required_after: rls:tenants
-- required_after: rls:webhook_events
-- required_after: rls:workload_sessions
-- required_after: rls:workloads
-- required_after: policy:admin_identity_tenant_scopes.tenant_isolation
-- required_after: policy:api_tokens.tenant_isolation
-- required_after: policy:approval_requests.tenant_isolation
-- required_after: policy:artifacts.tenant_isolation
-- required_after: policy:audit_events.tenant_isolation
-- required_after: policy:audit_redaction_profiles.tenant_isolation
-- required_after: policy:audit_seals.tenant_isolation
-- required_after: policy:crypto_verification_defaults.tenant_isolation
-- required_after: policy:enrollment_tokens.tenant_isolation
-- required_after: policy:human_user_roles.tenant_isolation
-- required_after: policy:human_users.tenant_isolation
-- required_after: policy:integrations.tenant_isolation
-- required_after: policy:jobs.tenant_isolation
-- required_after: policy:mcp_audit_log.tenant_isolation
-- required_after: policy:policy_rules.tenant_isolation
-- required_after: policy:projects.tenant_isolation
-- required_after: policy:secret_versions.tenant_isolation
-- required_after: policy:secrets.tenant_isolation
-- required_after: policy:ssrf_guard_decisions.tenant_isolation
-- required_after: policy:template_invalidation_outbox.tenant_isolation
-- required_after: policy:template_versions.tenant_isolation
-- required_after: policy:tenants.tenant_isolation
-- required_after: policy:webhook_events.tenant_isolation
-- required_after: policy:workload_sessions.tenant_isolation
-- required_after: policy:workloads.tenant_isolation

ALTER TABLE public.admin_identity_tenant_scopes ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.admin_identity_tenant_scopes FORCE ROW LEVEL SECURITY;

ALTER TABLE public.api_tokens ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.api_tokens FORCE ROW LEVEL SECURITY;

ALTER TABLE public.approval_requests ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.approval_requests FORCE ROW LEVEL SECURITY;

ALTER TABLE public.artifacts ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.artifacts FORCE ROW LEVEL SECURITY;

ALTER TABLE public.audit_events ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.audit_events FORCE ROW LEVEL SECURITY;

ALTER TABLE public.audit_redaction_profiles ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.audit_redaction_profiles FORCE ROW LEVEL SECURITY;

ALTER TABLE public.audit_seals ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.audit_seals FORCE ROW LEVEL SECURITY;

ALTER TABLE public.crypto_verification_defaults ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.crypto_verification_defaults FORCE ROW LEVEL SECURITY;

ALTER TABLE public.enrollment_tokens ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.enrollment_tokens FORCE ROW LEVEL SECURITY;

ALTER TABLE public.human_user_roles ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.human_user_roles FORCE ROW LEVEL SECURITY;

ALTER TABLE public.human_users ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.human_users FORCE ROW LEVEL SECURITY;

ALTER TABLE public.integrations ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.integrations FORCE ROW LEVEL SECURITY;

ALTER TABLE public.jobs ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.jobs FORCE ROW LEVEL SECURITY;

ALTER TABLE public.mcp_audit_log ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.mcp_audit_log FORCE ROW LEVEL SECURITY;

ALTER TABLE public.policy_rules ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.policy_rules FORCE ROW LEVEL SECURITY;

ALTER TABLE public.projects ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.projects FORCE ROW LEVEL SECURITY;

ALTER TABLE public.secret_versions ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.secret_versions FORCE ROW LEVEL SECURITY;

ALTER TABLE public.secrets ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.secrets FORCE ROW LEVEL SECURITY;

ALTER TABLE public.ssrf_guard_decisions ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.ssrf_guard_decisions FORCE ROW LEVEL SECURITY;

ALTER TABLE public.template_invalidation_outbox ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.template_invalidation_outbox FORCE ROW LEVEL SECURITY;

ALTER TABLE public.template_versions ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.template_versions FORCE ROW LEVEL SECURITY;

ALTER TABLE public.tenants ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.tenants FORCE ROW LEVEL SECURITY;

ALTER TABLE public.webhook_events ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.webhook_events FORCE ROW LEVEL SECURITY;

ALTER TABLE public.workload_sessions ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.workload_sessions FORCE ROW LEVEL SECURITY;

ALTER TABLE public.workloads ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.workloads FORCE ROW LEVEL SECURITY;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
                   WHERE polname = 'tenant_isolation' AND polrelid = 'public.admin_identity_tenant_scopes'::regclass) THEN
        CREATE POLICY tenant_isolation ON public.admin_identity_tenant_scopes AS PERMISSIVE FOR ALL TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));
    END IF;
END
$$;

ALTER POLICY tenant_isolation ON public.admin_identity_tenant_scopes TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
                   WHERE polname = 'tenant_isolation' AND polrelid = 'public.api_tokens'::regclass) THEN
        CREATE POLICY tenant_isolation ON public.api_tokens AS PERMISSIVE FOR ALL TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));
    END IF;
END
$$;

ALTER POLICY tenant_isolation ON public.api_tokens TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
                   WHERE polname = 'tenant_isolation' AND polrelid = 'public.approval_requests'::regclass) THEN
        CREATE POLICY tenant_isolation ON public.approval_requests AS PERMISSIVE FOR ALL TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));
    END IF;
END
$$;

ALTER POLICY tenant_isolation ON public.approval_requests TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
                   WHERE polname = 'tenant_isolation' AND polrelid = 'public.artifacts'::regclass) THEN
        CREATE POLICY tenant_isolation ON public.artifacts AS PERMISSIVE FOR ALL TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));
    END IF;
END
$$;

ALTER POLICY tenant_isolation ON public.artifacts TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
                   WHERE polname = 'tenant_isolation' AND polrelid = 'public.audit_events'::regclass) THEN
        CREATE POLICY tenant_isolation ON public.audit_events AS PERMISSIVE FOR ALL TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));
    END IF;
END
$$;

ALTER POLICY tenant_isolation ON public.audit_events TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
                   WHERE polname = 'tenant_isolation' AND polrelid = 'public.audit_redaction_profiles'::regclass) THEN
        CREATE POLICY tenant_isolation ON public.audit_redaction_profiles AS PERMISSIVE FOR ALL TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));
    END IF;
END
$$;

ALTER POLICY tenant_isolation ON public.audit_redaction_profiles TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
                   WHERE polname = 'tenant_isolation' AND polrelid = 'public.audit_seals'::regclass) THEN
        CREATE POLICY tenant_isolation ON public.audit_seals AS PERMISSIVE FOR ALL TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));
    END IF;
END
$$;

ALTER POLICY tenant_isolation ON public.audit_seals TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
                   WHERE polname = 'tenant_isolation' AND polrelid = 'public.crypto_verification_defaults'::regclass) THEN
        CREATE POLICY tenant_isolation ON public.crypto_verification_defaults AS PERMISSIVE FOR ALL TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));
    END IF;
END
$$;

ALTER POLICY tenant_isolation ON public.crypto_verification_defaults TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
                   WHERE polname = 'tenant_isolation' AND polrelid = 'public.enrollment_tokens'::regclass) THEN
        CREATE POLICY tenant_isolation ON public.enrollment_tokens AS PERMISSIVE FOR ALL TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));
    END IF;
END
$$;

ALTER POLICY tenant_isolation ON public.enrollment_tokens TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
                   WHERE polname = 'tenant_isolation' AND polrelid = 'public.human_user_roles'::regclass) THEN
        CREATE POLICY tenant_isolation ON public.human_user_roles AS PERMISSIVE FOR ALL TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));
    END IF;
END
$$;

ALTER POLICY tenant_isolation ON public.human_user_roles TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
                   WHERE polname = 'tenant_isolation' AND polrelid = 'public.human_users'::regclass) THEN
        CREATE POLICY tenant_isolation ON public.human_users AS PERMISSIVE FOR ALL TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));
    END IF;
END
$$;

ALTER POLICY tenant_isolation ON public.human_users TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
                   WHERE polname = 'tenant_isolation' AND polrelid = 'public.integrations'::regclass) THEN
        CREATE POLICY tenant_isolation ON public.integrations AS PERMISSIVE FOR ALL TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));
    END IF;
END
$$;

ALTER POLICY tenant_isolation ON public.integrations TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
                   WHERE polname = 'tenant_isolation' AND polrelid = 'public.jobs'::regclass) THEN
        CREATE POLICY tenant_isolation ON public.jobs AS PERMISSIVE FOR ALL TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));
    END IF;
END
$$;

ALTER POLICY tenant_isolation ON public.jobs TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
                   WHERE polname = 'tenant_isolation' AND polrelid = 'public.mcp_audit_log'::regclass) THEN
        CREATE POLICY tenant_isolation ON public.mcp_audit_log AS PERMISSIVE FOR ALL TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));
    END IF;
END
$$;

ALTER POLICY tenant_isolation ON public.mcp_audit_log TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
                   WHERE polname = 'tenant_isolation' AND polrelid = 'public.policy_rules'::regclass) THEN
        CREATE POLICY tenant_isolation ON public.policy_rules AS PERMISSIVE FOR ALL TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));
    END IF;
END
$$;

ALTER POLICY tenant_isolation ON public.policy_rules TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
                   WHERE polname = 'tenant_isolation' AND polrelid = 'public.projects'::regclass) THEN
        CREATE POLICY tenant_isolation ON public.projects AS PERMISSIVE FOR ALL TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));
    END IF;
END
$$;

ALTER POLICY tenant_isolation ON public.projects TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
                   WHERE polname = 'tenant_isolation' AND polrelid = 'public.secret_versions'::regclass) THEN
        CREATE POLICY tenant_isolation ON public.secret_versions AS PERMISSIVE FOR ALL TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));
    END IF;
END
$$;

ALTER POLICY tenant_isolation ON public.secret_versions TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
                   WHERE polname = 'tenant_isolation' AND polrelid = 'public.secrets'::regclass) THEN
        CREATE POLICY tenant_isolation ON public.secrets AS PERMISSIVE FOR ALL TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));
    END IF;
END
$$;

ALTER POLICY tenant_isolation ON public.secrets TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
                   WHERE polname = 'tenant_isolation' AND polrelid = 'public.ssrf_guard_decisions'::regclass) THEN
        CREATE POLICY tenant_isolation ON public.ssrf_guard_decisions AS PERMISSIVE FOR ALL TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));
    END IF;
END
$$;

ALTER POLICY tenant_isolation ON public.ssrf_guard_decisions TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
                   WHERE polname = 'tenant_isolation' AND polrelid = 'public.template_invalidation_outbox'::regclass) THEN
        CREATE POLICY tenant_isolation ON public.template_invalidation_outbox AS PERMISSIVE FOR ALL TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));
    END IF;
END
$$;

ALTER POLICY tenant_isolation ON public.template_invalidation_outbox TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
                   WHERE polname = 'tenant_isolation' AND polrelid = 'public.template_versions'::regclass) THEN
        CREATE POLICY tenant_isolation ON public.template_versions AS PERMISSIVE FOR ALL TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));
    END IF;
END
$$;

ALTER POLICY tenant_isolation ON public.template_versions TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
                   WHERE polname = 'tenant_isolation' AND polrelid = 'public.tenants'::regclass) THEN
        CREATE POLICY tenant_isolation ON public.tenants AS PERMISSIVE FOR ALL TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));
    END IF;
END
$$;

ALTER POLICY tenant_isolation ON public.tenants TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
                   WHERE polname = 'tenant_isolation' AND polrelid = 'public.webhook_events'::regclass) THEN
        CREATE POLICY tenant_isolation ON public.webhook_events AS PERMISSIVE FOR ALL TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));
    END IF;
END
$$;

ALTER POLICY tenant_isolation ON public.webhook_events TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
                   WHERE polname = 'tenant_isolation' AND polrelid = 'public.workload_sessions'::regclass) THEN
        CREATE POLICY tenant_isolation ON public.workload_sessions AS PERMISSIVE FOR ALL TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));
    END IF;
END
$$;

ALTER POLICY tenant_isolation ON public.workload_sessions TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
                   WHERE polname = 'tenant_isolation' AND polrelid = 'public.workloads'::regclass) THEN
        CREATE POLICY tenant_isolation ON public.workloads AS PERMISSIVE FOR ALL TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));
    END IF;
END
$$;

ALTER POLICY tenant_isolation ON public.workloads TO PUBLIC USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text)) WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id'::text, true), ''::text));
