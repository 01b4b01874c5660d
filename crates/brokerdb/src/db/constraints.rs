//! What each constraint of the schema guards, named as the API names it.
//!
//! Errors carry the field, never the constraint: constraint names are schema internals, and a
//! constraint name can tell a caller more than the field does (`…_pending_per_principal`). The
//! name is logged at debug level where the error is mapped.

/// The field (or fields, comma-separated) a unique constraint or index guards; `"key"` for one
/// this table does not know (a new constraint should be added here).
pub(crate) fn unique_field(constraint: &str) -> &'static str {
    match constraint {
        "uq_tenants_tenant_id"
        | "uq_crypto_verification_defaults_tenant_id"
        | "uq_audit_redaction_profiles_tenant_id"
        | "uq_admin_identity_tenant_scopes_identity_tenant" => "tenant_id",
        "uq_admin_identities_identity_id" => "identity_id",
        "uq_admin_identities_issuer_subject" | "uq_admin_access_requests_pending_per_principal" => {
            "issuer,subject"
        }
        "uq_admin_identity_role_bindings_identity_role" | "uq_human_user_roles_user_role" => "role",
        "uq_admin_access_requests_request_id" => "request_id",
        "uq_human_users_user_id" | "uq_human_users_tenant_user" => "user_id",
        "uq_human_users_tenant_email" => "email",
        "uq_workloads_workload_id" | "uq_workloads_tenant_workload" => "workload_id",
        "uq_workloads_mtls_san_uri" => "mtls_san_uri",
        "uq_workloads_tenant_name" | "uq_integrations_tenant_name" => "name",
        "uq_enrollment_tokens_token_hash" | "uq_workload_sessions_token_hash" => "token_hash",
        "uq_workload_sessions_session_id" => "session_id",
        "uq_integrations_integration_id"
        | "uq_integrations_tenant_integration"
        | "uq_secrets_integration_id" => "integration_id",
        "uq_integrations_secret_ref" | "uq_secrets_secret_ref" | "uq_secrets_tenant_secret_ref" => {
            "secret_ref"
        }
        "uq_secret_versions_secret_ref_version"
        | "uq_secret_versions_tenant_secret_ref_version"
        | "uq_template_versions_tenant_template_version" => "version",
        "uq_manifest_signing_keys_kid" => "kid",
        "uq_manifest_signing_keys_single_active" => "status",
        "uq_manifest_keyset_metadata_keyset_name" => "keyset_name",
        "uq_policy_rules_policy_id" => "policy_id",
        "uq_approval_requests_approval_id" => "approval_id",
        // `…_pending_descriptor` until 0015 replaced it with `…_in_flight_descriptor`.
        "uq_approval_requests_in_flight_descriptor" | "uq_approval_requests_pending_descriptor" => {
            "descriptor"
        }
        "uq_audit_events_event_id"
        | "uq_ssrf_guard_decisions_event_id"
        | "uq_audit_seals_tenant_event"
        | "uq_system_audit_events_event_id"
        | "uq_system_audit_seals_event" => "event_id",
        "uq_template_invalidation_outbox_signal" => "signal",
        "uq_jobs_queue_dedupe_key_unfinished" => "dedupe_key",
        // The project store's set (crate brokerdb-projects), which shares this mapping.
        "uq_projects_project_id" => "project_id",
        "uq_artifacts_tenant_project_path" => "path",
        "uq_webhook_events_in_flight_payload" => "payload_hash",
        "audit_seals_pkey" | "system_audit_seals_pkey" => "chain_seq",
        c if c.ends_with("_pkey") => "id",
        _ => "key",
    }
}

/// Every table of the schema, longest names first (so a prefix never shadows a longer name).
const TABLES: &[&str] = &[
    "admin_identity_tenant_scopes",
    "admin_identity_role_bindings",
    "template_invalidation_outbox",
    "crypto_verification_defaults",
    "manifest_keyset_metadata",
    "audit_redaction_profiles",
    "system_audit_chain_head",
    "system_audit_seal_queue",
    "manifest_signing_keys",
    "admin_access_requests",
    "ssrf_guard_decisions",
    "system_audit_events",
    "admin_signup_policy",
    "system_audit_seals",
    "audit_chain_heads",
    "template_versions",
    "approval_requests",
    "workload_sessions",
    "enrollment_tokens",
    "audit_sealer_lock",
    "admin_identities",
    "audit_seal_queue",
    "human_user_roles",
    "secret_versions",
    "webhook_events",
    "db_repair_runs",
    "mcp_audit_log",
    "audit_events",
    "policy_rules",
    "integrations",
    "audit_seals",
    "human_users",
    "artifacts",
    "workloads",
    "projects",
    "secrets",
    "tenants",
    "jobs",
];

/// `<kind>_<table>_<what>` → `<what>`.
fn what<'c>(constraint: &'c str, kind: &str) -> Option<&'c str> {
    let rest = constraint.strip_prefix(kind)?;
    TABLES
        .iter()
        .find_map(|t| rest.strip_prefix(t).and_then(|r| r.strip_prefix('_')))
}

/// The field a CHECK constraint guards (`ck_<table>_<what>`), as the API names it; `"row"` for
/// rules over several columns or the table's own bookkeeping.
pub(crate) fn check_field(constraint: &str) -> String {
    let Some(what) = what(constraint, "ck_") else {
        return "row".to_owned();
    };
    let field = match what {
        "expires_after_created" => "expires_at",
        "used_after_created" => "used_at",
        "timestamp_near_created_at" => "timestamp",
        "rate_limit_shape" => "rate_limit",
        "secret_pointer" => "secret_ref",
        "required_payload" | "payload_size" => "payload",
        "last_error_length" => "last_error",
        "status_timestamps" => "status",
        "decision_coherence" => "decision",
        "resolved_ips_count" => "resolved_ips",
        "active_version" => "active_version",
        "error_code_when_failed" => "error_code",
        "chain" | "link" | "hash" | "singleton" | "required" | "lease" | "finished" => "row",
        other => other
            .strip_suffix("_non_empty")
            .or_else(|| other.strip_suffix("_format"))
            .or_else(|| other.strip_suffix("_length"))
            .unwrap_or(other),
    };
    field.to_owned()
}

/// The field a foreign key holds (`fk_<table>_<parent>`): the parent's business key.
pub(crate) fn foreign_key_field(constraint: &str) -> &'static str {
    if constraint == "secrets_active_version_fkey" {
        return "active_version";
    }
    match what(constraint, "fk_") {
        Some("tenant") => "tenant_id",
        Some("workload") => "workload_id",
        Some("user") => "user_id",
        Some("identity") => "identity_id",
        Some("secret") => "secret_ref",
        Some("integration") => "integration_id",
        Some("project") => "project_id",
        _ => "reference",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn constraints_map_to_the_fields_they_guard() {
        use super::unique_field;
        assert_eq!(unique_field("uq_human_users_tenant_email"), "email");
        assert_eq!(unique_field("uq_workloads_mtls_san_uri"), "mtls_san_uri");
        assert_eq!(
            unique_field("uq_approval_requests_in_flight_descriptor"),
            "descriptor"
        );
        assert_eq!(unique_field("workloads_pkey"), "id");
        assert_eq!(unique_field("something_new"), "key");
    }

    #[test]
    fn checks_and_foreign_keys_map_to_their_fields() {
        use super::{check_field, foreign_key_field};
        for (constraint, field) in [
            ("ck_audit_events_latency_ms", "latency_ms"),
            ("ck_enrollment_tokens_token_hash_format", "token_hash"),
            ("ck_admin_identities_email_non_empty", "email"),
            ("ck_enrollment_tokens_expires_after_created", "expires_at"),
            ("ck_audit_events_timestamp_near_created_at", "timestamp"),
            (
                "ck_crypto_verification_defaults_max_clock_skew_seconds",
                "max_clock_skew_seconds",
            ),
            ("ck_system_audit_seals_link", "row"),
            ("ck_jobs_queue_format", "queue"),
            ("ck_jobs_payload_size", "payload"),
            ("ck_jobs_lease", "row"),
            ("ck_db_repair_runs_actual_hash_format", "actual_hash"),
            ("ck_db_repair_runs_summary_length", "summary"),
            ("ck_db_repair_runs_error_code_when_failed", "error_code"),
            ("not_ours", "row"),
        ] {
            assert_eq!(check_field(constraint), field, "{constraint}");
        }
        assert_eq!(
            foreign_key_field("fk_enrollment_tokens_workload"),
            "workload_id"
        );
        assert_eq!(
            foreign_key_field("fk_admin_identity_tenant_scopes_tenant"),
            "tenant_id"
        );
        assert_eq!(
            foreign_key_field("fk_secrets_integration"),
            "integration_id"
        );
        assert_eq!(
            foreign_key_field("secrets_active_version_fkey"),
            "active_version"
        );
    }
}
