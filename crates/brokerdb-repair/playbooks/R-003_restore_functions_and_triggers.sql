-- Generated from schema/expected.json by brokerdb-repair's `generate` module;
-- regenerate with BROKERDB_BLESS=1 (README: database repair console), never edit by hand.
-- id: R-003
-- title: Restore functions and triggers
-- description: Recreates every function the migrations define (CREATE OR REPLACE FUNCTION, with SECURITY DEFINER and search_path as defined),
-- description: creates each missing trigger (the append-only guards, the audit queue, the updated_at stamps) and enables every trigger.
-- description: A trigger the migrations do not define is not removed: the doctor reports it for a manual fix.
-- required_before: table:admin_access_requests
-- required_before: table:admin_identities
-- required_before: table:admin_signup_policy
-- required_before: table:approval_requests
-- required_before: table:artifacts
-- required_before: table:audit_events
-- required_before: table:audit_redaction_profiles
-- required_before: table:audit_seals
-- required_before: table:crypto_verification_defaults
-- required_before: table:db_repair_runs
-- required_before: table:human_user_roles
-- required_before: table:human_users
-- required_before: table:integrations
-- required_before: table:jobs
-- required_before: table:manifest_keyset_metadata
-- required_before: table:mcp_audit_log
-- required_before: table:policy_rules
-- required_before: table:projects
-- required_before: table:secrets
-- required_before: table:ssrf_guard_decisions
-- required_before: table:system_audit_events
-- required_before: table:system_audit_seals
-- required_before: table:template_invalidation_outbox
-- required_before: table:tenants
-- required_before: table:workload_sessions
-- required_before: table:workloads
-- required_after: function:brokerdb_forbid_mutation
-- required_after: function:brokerdb_touch_updated_at
-- required_after: function:brokerdb_user_copies_to_roles
-- required_after: function:brokerdb_user_role_copies
-- required_after: trigger:admin_access_requests.trg_admin_access_requests_touch_updated_at
-- required_after: trigger:admin_identities.trg_admin_identities_touch_updated_at
-- required_after: trigger:admin_signup_policy.trg_admin_signup_policy_touch_updated_at
-- required_after: trigger:approval_requests.trg_approval_requests_touch_updated_at
-- required_after: trigger:artifacts.trg_artifacts_touch_updated_at
-- required_after: trigger:audit_events.trg_audit_events_forbid_mutation
-- required_after: trigger:audit_events.trg_audit_events_forbid_truncate
-- required_after: trigger:audit_redaction_profiles.trg_audit_redaction_profiles_touch_updated_at
-- required_after: trigger:audit_seals.trg_audit_seals_forbid_mutation
-- required_after: trigger:audit_seals.trg_audit_seals_forbid_truncate
-- required_after: trigger:crypto_verification_defaults.trg_crypto_verification_defaults_touch_updated_at
-- required_after: trigger:db_repair_runs.prevent_delete_db_repair_runs
-- required_after: trigger:db_repair_runs.prevent_truncate_db_repair_runs
-- required_after: trigger:db_repair_runs.prevent_update_db_repair_runs
-- required_after: trigger:human_user_roles.trg_human_user_roles_copies
-- required_after: trigger:human_users.trg_human_users_copies_to_roles
-- required_after: trigger:human_users.trg_human_users_touch_updated_at
-- required_after: trigger:integrations.trg_integrations_touch_updated_at
-- required_after: trigger:jobs.trg_jobs_touch_updated_at
-- required_after: trigger:manifest_keyset_metadata.trg_manifest_keyset_metadata_touch_updated_at
-- required_after: trigger:mcp_audit_log.trg_mcp_audit_log_forbid_mutation
-- required_after: trigger:mcp_audit_log.trg_mcp_audit_log_forbid_truncate
-- required_after: trigger:policy_rules.trg_policy_rules_touch_updated_at
-- required_after: trigger:projects.trg_projects_touch_updated_at
-- required_after: trigger:secrets.trg_secrets_touch_updated_at
-- required_after: trigger:ssrf_guard_decisions.trg_ssrf_guard_decisions_forbid_mutation
-- required_after: trigger:ssrf_guard_decisions.trg_ssrf_guard_decisions_forbid_truncate
-- required_after: trigger:system_audit_events.trg_system_audit_events_forbid_mutation
-- required_after: trigger:system_audit_events.trg_system_audit_events_forbid_truncate
-- required_after: trigger:system_audit_seals.trg_system_audit_seals_forbid_mutation
-- required_after: trigger:system_audit_seals.trg_system_audit_seals_forbid_truncate
-- required_after: trigger:template_invalidation_outbox.trg_template_invalidation_outbox_touch_updated_at
-- required_after: trigger:tenants.trg_tenants_touch_updated_at
-- required_after: trigger:workload_sessions.trg_workload_sessions_touch_updated_at
-- required_after: trigger:workloads.trg_workloads_touch_updated_at

CREATE OR REPLACE FUNCTION public.brokerdb_forbid_mutation()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$function$;

CREATE OR REPLACE FUNCTION public.brokerdb_touch_updated_at()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := date_trunc('milliseconds', now());
    END IF;
    RETURN NEW;
END
$function$;

CREATE OR REPLACE FUNCTION public.brokerdb_user_copies_to_roles()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
BEGIN
    UPDATE public.human_user_roles r
       SET user_created_at = NEW.created_at, user_enabled = NEW.enabled
     WHERE r.tenant_id = NEW.tenant_id AND r.user_id = NEW.user_id;
    RETURN NULL;
END
$function$;

CREATE OR REPLACE FUNCTION public.brokerdb_user_role_copies()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
DECLARE
    created timestamptz;
    active boolean;
BEGIN
    SELECT u.created_at, u.enabled INTO created, active
      FROM public.human_users u
     WHERE u.tenant_id = NEW.tenant_id AND u.user_id = NEW.user_id;
    IF FOUND THEN
        NEW.user_created_at := created;
        NEW.user_enabled := active;
    ELSIF TG_OP = 'UPDATE' THEN
        -- The user is not visible to this writer: keep the copies rather than blank them.
        NEW.user_created_at := OLD.user_created_at;
        NEW.user_enabled := OLD.user_enabled;
    ELSE
        -- No such user: the foreign key refuses the row.
        NEW.user_created_at := NULL;
        NEW.user_enabled := NULL;
    END IF;
    RETURN NEW;
END
$function$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_admin_access_requests_touch_updated_at' AND tgrelid = 'public.admin_access_requests'::regclass) THEN
        CREATE TRIGGER trg_admin_access_requests_touch_updated_at BEFORE UPDATE ON public.admin_access_requests FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
    END IF;
END
$$;

ALTER TABLE public.admin_access_requests ENABLE TRIGGER trg_admin_access_requests_touch_updated_at;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_admin_identities_touch_updated_at' AND tgrelid = 'public.admin_identities'::regclass) THEN
        CREATE TRIGGER trg_admin_identities_touch_updated_at BEFORE UPDATE ON public.admin_identities FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
    END IF;
END
$$;

ALTER TABLE public.admin_identities ENABLE TRIGGER trg_admin_identities_touch_updated_at;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_admin_signup_policy_touch_updated_at' AND tgrelid = 'public.admin_signup_policy'::regclass) THEN
        CREATE TRIGGER trg_admin_signup_policy_touch_updated_at BEFORE UPDATE ON public.admin_signup_policy FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
    END IF;
END
$$;

ALTER TABLE public.admin_signup_policy ENABLE TRIGGER trg_admin_signup_policy_touch_updated_at;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_approval_requests_touch_updated_at' AND tgrelid = 'public.approval_requests'::regclass) THEN
        CREATE TRIGGER trg_approval_requests_touch_updated_at BEFORE UPDATE ON public.approval_requests FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
    END IF;
END
$$;

ALTER TABLE public.approval_requests ENABLE TRIGGER trg_approval_requests_touch_updated_at;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_artifacts_touch_updated_at' AND tgrelid = 'public.artifacts'::regclass) THEN
        CREATE TRIGGER trg_artifacts_touch_updated_at BEFORE UPDATE ON public.artifacts FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
    END IF;
END
$$;

ALTER TABLE public.artifacts ENABLE TRIGGER trg_artifacts_touch_updated_at;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_audit_events_forbid_mutation' AND tgrelid = 'public.audit_events'::regclass) THEN
        CREATE TRIGGER trg_audit_events_forbid_mutation BEFORE DELETE OR UPDATE ON public.audit_events FOR EACH ROW EXECUTE FUNCTION brokerdb_forbid_mutation();
    END IF;
END
$$;

ALTER TABLE public.audit_events ENABLE TRIGGER trg_audit_events_forbid_mutation;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_audit_events_forbid_truncate' AND tgrelid = 'public.audit_events'::regclass) THEN
        CREATE TRIGGER trg_audit_events_forbid_truncate BEFORE TRUNCATE ON public.audit_events FOR EACH STATEMENT EXECUTE FUNCTION brokerdb_forbid_mutation();
    END IF;
END
$$;

ALTER TABLE public.audit_events ENABLE TRIGGER trg_audit_events_forbid_truncate;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_audit_redaction_profiles_touch_updated_at' AND tgrelid = 'public.audit_redaction_profiles'::regclass) THEN
        CREATE TRIGGER trg_audit_redaction_profiles_touch_updated_at BEFORE UPDATE ON public.audit_redaction_profiles FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
    END IF;
END
$$;

ALTER TABLE public.audit_redaction_profiles ENABLE TRIGGER trg_audit_redaction_profiles_touch_updated_at;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_audit_seals_forbid_mutation' AND tgrelid = 'public.audit_seals'::regclass) THEN
        CREATE TRIGGER trg_audit_seals_forbid_mutation BEFORE DELETE OR UPDATE ON public.audit_seals FOR EACH ROW EXECUTE FUNCTION brokerdb_forbid_mutation();
    END IF;
END
$$;

ALTER TABLE public.audit_seals ENABLE TRIGGER trg_audit_seals_forbid_mutation;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_audit_seals_forbid_truncate' AND tgrelid = 'public.audit_seals'::regclass) THEN
        CREATE TRIGGER trg_audit_seals_forbid_truncate BEFORE TRUNCATE ON public.audit_seals FOR EACH STATEMENT EXECUTE FUNCTION brokerdb_forbid_mutation();
    END IF;
END
$$;

ALTER TABLE public.audit_seals ENABLE TRIGGER trg_audit_seals_forbid_truncate;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_crypto_verification_defaults_touch_updated_at' AND tgrelid = 'public.crypto_verification_defaults'::regclass) THEN
        CREATE TRIGGER trg_crypto_verification_defaults_touch_updated_at BEFORE UPDATE ON public.crypto_verification_defaults FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
    END IF;
END
$$;

ALTER TABLE public.crypto_verification_defaults ENABLE TRIGGER trg_crypto_verification_defaults_touch_updated_at;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'prevent_delete_db_repair_runs' AND tgrelid = 'public.db_repair_runs'::regclass) THEN
        CREATE TRIGGER prevent_delete_db_repair_runs BEFORE DELETE ON public.db_repair_runs FOR EACH ROW EXECUTE FUNCTION brokerdb_forbid_mutation();
    END IF;
END
$$;

ALTER TABLE public.db_repair_runs ENABLE TRIGGER prevent_delete_db_repair_runs;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'prevent_truncate_db_repair_runs' AND tgrelid = 'public.db_repair_runs'::regclass) THEN
        CREATE TRIGGER prevent_truncate_db_repair_runs BEFORE TRUNCATE ON public.db_repair_runs FOR EACH STATEMENT EXECUTE FUNCTION brokerdb_forbid_mutation();
    END IF;
END
$$;

ALTER TABLE public.db_repair_runs ENABLE TRIGGER prevent_truncate_db_repair_runs;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'prevent_update_db_repair_runs' AND tgrelid = 'public.db_repair_runs'::regclass) THEN
        CREATE TRIGGER prevent_update_db_repair_runs BEFORE UPDATE ON public.db_repair_runs FOR EACH ROW EXECUTE FUNCTION brokerdb_forbid_mutation();
    END IF;
END
$$;

ALTER TABLE public.db_repair_runs ENABLE TRIGGER prevent_update_db_repair_runs;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_human_user_roles_copies' AND tgrelid = 'public.human_user_roles'::regclass) THEN
        CREATE TRIGGER trg_human_user_roles_copies BEFORE INSERT OR UPDATE OF tenant_id, user_id, user_created_at, user_enabled ON public.human_user_roles FOR EACH ROW EXECUTE FUNCTION brokerdb_user_role_copies();
    END IF;
END
$$;

ALTER TABLE public.human_user_roles ENABLE TRIGGER trg_human_user_roles_copies;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_human_users_copies_to_roles' AND tgrelid = 'public.human_users'::regclass) THEN
        CREATE TRIGGER trg_human_users_copies_to_roles AFTER UPDATE OF created_at, enabled ON public.human_users FOR EACH ROW WHEN (((old.created_at IS DISTINCT FROM new.created_at) OR (old.enabled IS DISTINCT FROM new.enabled))) EXECUTE FUNCTION brokerdb_user_copies_to_roles();
    END IF;
END
$$;

ALTER TABLE public.human_users ENABLE TRIGGER trg_human_users_copies_to_roles;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_human_users_touch_updated_at' AND tgrelid = 'public.human_users'::regclass) THEN
        CREATE TRIGGER trg_human_users_touch_updated_at BEFORE UPDATE ON public.human_users FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
    END IF;
END
$$;

ALTER TABLE public.human_users ENABLE TRIGGER trg_human_users_touch_updated_at;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_integrations_touch_updated_at' AND tgrelid = 'public.integrations'::regclass) THEN
        CREATE TRIGGER trg_integrations_touch_updated_at BEFORE UPDATE ON public.integrations FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
    END IF;
END
$$;

ALTER TABLE public.integrations ENABLE TRIGGER trg_integrations_touch_updated_at;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_jobs_touch_updated_at' AND tgrelid = 'public.jobs'::regclass) THEN
        CREATE TRIGGER trg_jobs_touch_updated_at BEFORE UPDATE ON public.jobs FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
    END IF;
END
$$;

ALTER TABLE public.jobs ENABLE TRIGGER trg_jobs_touch_updated_at;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_manifest_keyset_metadata_touch_updated_at' AND tgrelid = 'public.manifest_keyset_metadata'::regclass) THEN
        CREATE TRIGGER trg_manifest_keyset_metadata_touch_updated_at BEFORE UPDATE ON public.manifest_keyset_metadata FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
    END IF;
END
$$;

ALTER TABLE public.manifest_keyset_metadata ENABLE TRIGGER trg_manifest_keyset_metadata_touch_updated_at;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_mcp_audit_log_forbid_mutation' AND tgrelid = 'public.mcp_audit_log'::regclass) THEN
        CREATE TRIGGER trg_mcp_audit_log_forbid_mutation BEFORE DELETE OR UPDATE ON public.mcp_audit_log FOR EACH ROW EXECUTE FUNCTION brokerdb_forbid_mutation();
    END IF;
END
$$;

ALTER TABLE public.mcp_audit_log ENABLE TRIGGER trg_mcp_audit_log_forbid_mutation;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_mcp_audit_log_forbid_truncate' AND tgrelid = 'public.mcp_audit_log'::regclass) THEN
        CREATE TRIGGER trg_mcp_audit_log_forbid_truncate BEFORE TRUNCATE ON public.mcp_audit_log FOR EACH STATEMENT EXECUTE FUNCTION brokerdb_forbid_mutation();
    END IF;
END
$$;

ALTER TABLE public.mcp_audit_log ENABLE TRIGGER trg_mcp_audit_log_forbid_truncate;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_policy_rules_touch_updated_at' AND tgrelid = 'public.policy_rules'::regclass) THEN
        CREATE TRIGGER trg_policy_rules_touch_updated_at BEFORE UPDATE ON public.policy_rules FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
    END IF;
END
$$;

ALTER TABLE public.policy_rules ENABLE TRIGGER trg_policy_rules_touch_updated_at;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_projects_touch_updated_at' AND tgrelid = 'public.projects'::regclass) THEN
        CREATE TRIGGER trg_projects_touch_updated_at BEFORE UPDATE ON public.projects FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
    END IF;
END
$$;

ALTER TABLE public.projects ENABLE TRIGGER trg_projects_touch_updated_at;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_secrets_touch_updated_at' AND tgrelid = 'public.secrets'::regclass) THEN
        CREATE TRIGGER trg_secrets_touch_updated_at BEFORE UPDATE ON public.secrets FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
    END IF;
END
$$;

ALTER TABLE public.secrets ENABLE TRIGGER trg_secrets_touch_updated_at;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_ssrf_guard_decisions_forbid_mutation' AND tgrelid = 'public.ssrf_guard_decisions'::regclass) THEN
        CREATE TRIGGER trg_ssrf_guard_decisions_forbid_mutation BEFORE DELETE OR UPDATE ON public.ssrf_guard_decisions FOR EACH ROW EXECUTE FUNCTION brokerdb_forbid_mutation();
    END IF;
END
$$;

ALTER TABLE public.ssrf_guard_decisions ENABLE TRIGGER trg_ssrf_guard_decisions_forbid_mutation;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_ssrf_guard_decisions_forbid_truncate' AND tgrelid = 'public.ssrf_guard_decisions'::regclass) THEN
        CREATE TRIGGER trg_ssrf_guard_decisions_forbid_truncate BEFORE TRUNCATE ON public.ssrf_guard_decisions FOR EACH STATEMENT EXECUTE FUNCTION brokerdb_forbid_mutation();
    END IF;
END
$$;

ALTER TABLE public.ssrf_guard_decisions ENABLE TRIGGER trg_ssrf_guard_decisions_forbid_truncate;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_system_audit_events_forbid_mutation' AND tgrelid = 'public.system_audit_events'::regclass) THEN
        CREATE TRIGGER trg_system_audit_events_forbid_mutation BEFORE DELETE OR UPDATE ON public.system_audit_events FOR EACH ROW EXECUTE FUNCTION brokerdb_forbid_mutation();
    END IF;
END
$$;

ALTER TABLE public.system_audit_events ENABLE TRIGGER trg_system_audit_events_forbid_mutation;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_system_audit_events_forbid_truncate' AND tgrelid = 'public.system_audit_events'::regclass) THEN
        CREATE TRIGGER trg_system_audit_events_forbid_truncate BEFORE TRUNCATE ON public.system_audit_events FOR EACH STATEMENT EXECUTE FUNCTION brokerdb_forbid_mutation();
    END IF;
END
$$;

ALTER TABLE public.system_audit_events ENABLE TRIGGER trg_system_audit_events_forbid_truncate;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_system_audit_seals_forbid_mutation' AND tgrelid = 'public.system_audit_seals'::regclass) THEN
        CREATE TRIGGER trg_system_audit_seals_forbid_mutation BEFORE DELETE OR UPDATE ON public.system_audit_seals FOR EACH ROW EXECUTE FUNCTION brokerdb_forbid_mutation();
    END IF;
END
$$;

ALTER TABLE public.system_audit_seals ENABLE TRIGGER trg_system_audit_seals_forbid_mutation;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_system_audit_seals_forbid_truncate' AND tgrelid = 'public.system_audit_seals'::regclass) THEN
        CREATE TRIGGER trg_system_audit_seals_forbid_truncate BEFORE TRUNCATE ON public.system_audit_seals FOR EACH STATEMENT EXECUTE FUNCTION brokerdb_forbid_mutation();
    END IF;
END
$$;

ALTER TABLE public.system_audit_seals ENABLE TRIGGER trg_system_audit_seals_forbid_truncate;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_template_invalidation_outbox_touch_updated_at' AND tgrelid = 'public.template_invalidation_outbox'::regclass) THEN
        CREATE TRIGGER trg_template_invalidation_outbox_touch_updated_at BEFORE UPDATE ON public.template_invalidation_outbox FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
    END IF;
END
$$;

ALTER TABLE public.template_invalidation_outbox ENABLE TRIGGER trg_template_invalidation_outbox_touch_updated_at;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_tenants_touch_updated_at' AND tgrelid = 'public.tenants'::regclass) THEN
        CREATE TRIGGER trg_tenants_touch_updated_at BEFORE UPDATE ON public.tenants FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
    END IF;
END
$$;

ALTER TABLE public.tenants ENABLE TRIGGER trg_tenants_touch_updated_at;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_workload_sessions_touch_updated_at' AND tgrelid = 'public.workload_sessions'::regclass) THEN
        CREATE TRIGGER trg_workload_sessions_touch_updated_at BEFORE UPDATE ON public.workload_sessions FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
    END IF;
END
$$;

ALTER TABLE public.workload_sessions ENABLE TRIGGER trg_workload_sessions_touch_updated_at;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgname = 'trg_workloads_touch_updated_at' AND tgrelid = 'public.workloads'::regclass) THEN
        CREATE TRIGGER trg_workloads_touch_updated_at BEFORE UPDATE ON public.workloads FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
    END IF;
END
$$;

ALTER TABLE public.workloads ENABLE TRIGGER trg_workloads_touch_updated_at;
