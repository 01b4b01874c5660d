//! The broker schema's constraint vocabulary: its tables, and the field each of its constraints
//! guards as the API names it (the core maps database errors with it; see
//! [`ConstraintFields`](crate::db::ConstraintFields)).

use crate::db::ConstraintFields;

brokerdb_core::inventory::submit! {
    ConstraintFields {
        tables: &[
            "admin_identity_tenant_scopes",
            "admin_identity_role_bindings",
            "template_invalidation_outbox",
            "crypto_verification_defaults",
            "manifest_keyset_metadata",
            "audit_redaction_profiles",
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
            "human_user_roles",
            "secret_versions",
            "db_repair_runs",
            "audit_events",
            "policy_rules",
            "integrations",
            "audit_seals",
            "human_users",
            "workloads",
            "secrets",
            "tenants",
        ],
        unique: &[
            ("uq_tenants_tenant_id", "tenant_id"),
            ("uq_crypto_verification_defaults_tenant_id", "tenant_id"),
            ("uq_audit_redaction_profiles_tenant_id", "tenant_id"),
            ("uq_admin_identity_tenant_scopes_identity_tenant", "tenant_id"),
            ("uq_admin_identities_identity_id", "identity_id"),
            ("uq_admin_identities_issuer_subject", "issuer,subject"),
            ("uq_admin_access_requests_pending_per_principal", "issuer,subject"),
            ("uq_admin_identity_role_bindings_identity_role", "role"),
            ("uq_human_user_roles_user_role", "role"),
            ("uq_admin_access_requests_request_id", "request_id"),
            ("uq_human_users_user_id", "user_id"),
            ("uq_human_users_tenant_user", "user_id"),
            ("uq_human_users_tenant_email", "email"),
            ("uq_workloads_workload_id", "workload_id"),
            ("uq_workloads_tenant_workload", "workload_id"),
            ("uq_workloads_mtls_san_uri", "mtls_san_uri"),
            ("uq_workloads_tenant_name", "name"),
            ("uq_integrations_tenant_name", "name"),
            ("uq_enrollment_tokens_token_hash", "token_hash"),
            ("uq_workload_sessions_token_hash", "token_hash"),
            ("uq_workload_sessions_session_id", "session_id"),
            ("uq_integrations_integration_id", "integration_id"),
            ("uq_integrations_tenant_integration", "integration_id"),
            ("uq_secrets_integration_id", "integration_id"),
            ("uq_integrations_secret_ref", "secret_ref"),
            ("uq_secrets_secret_ref", "secret_ref"),
            ("uq_secrets_tenant_secret_ref", "secret_ref"),
            ("uq_secret_versions_secret_ref_version", "version"),
            ("uq_secret_versions_tenant_secret_ref_version", "version"),
            ("uq_template_versions_tenant_template_version", "version"),
            ("uq_manifest_signing_keys_kid", "kid"),
            ("uq_manifest_signing_keys_single_active", "status"),
            ("uq_manifest_keyset_metadata_keyset_name", "keyset_name"),
            ("uq_policy_rules_policy_id", "policy_id"),
            ("uq_approval_requests_approval_id", "approval_id"),
            // `…_pending_descriptor` until 0015 replaced it with `…_in_flight_descriptor`.
            ("uq_approval_requests_in_flight_descriptor", "descriptor"),
            ("uq_approval_requests_pending_descriptor", "descriptor"),
            ("uq_audit_events_event_id", "event_id"),
            ("uq_ssrf_guard_decisions_event_id", "event_id"),
            ("uq_audit_seals_tenant_event", "event_id"),
            ("uq_system_audit_events_event_id", "event_id"),
            ("uq_system_audit_seals_event", "event_id"),
            ("uq_template_invalidation_outbox_signal", "signal"),
            ("audit_seals_pkey", "chain_seq"),
            ("system_audit_seals_pkey", "chain_seq"),
        ],
        checks: &[
            ("expires_after_created", "expires_at"),
            ("used_after_created", "used_at"),
            ("timestamp_near_created_at", "timestamp"),
            ("rate_limit_shape", "rate_limit"),
            ("secret_pointer", "secret_ref"),
            ("required_payload", "payload"),
            ("status_timestamps", "status"),
            ("decision_coherence", "decision"),
            ("resolved_ips_count", "resolved_ips"),
            ("error_code_when_failed", "error_code"),
            ("chain", "row"),
            ("link", "row"),
            ("hash", "row"),
            ("singleton", "row"),
            ("required", "row"),
        ],
        foreign_keys: &[
            ("secrets_active_version_fkey", "active_version"),
            ("tenant", "tenant_id"),
            ("workload", "workload_id"),
            ("user", "user_id"),
            ("identity", "identity_id"),
            ("secret", "secret_ref"),
            ("integration", "integration_id"),
        ],
    }
}

#[cfg(test)]
mod tests {
    use crate::db::{ConstraintKind, constraint_field};

    #[test]
    fn the_broker_constraints_map_to_the_fields_they_guard() {
        for (kind, constraint, field) in [
            (
                ConstraintKind::Unique,
                "uq_human_users_tenant_email",
                "email",
            ),
            (
                ConstraintKind::Unique,
                "uq_workloads_mtls_san_uri",
                "mtls_san_uri",
            ),
            (
                ConstraintKind::Unique,
                "uq_approval_requests_in_flight_descriptor",
                "descriptor",
            ),
            (ConstraintKind::Unique, "workloads_pkey", "id"),
            (ConstraintKind::Unique, "audit_seals_pkey", "chain_seq"),
            (ConstraintKind::Unique, "something_new", "key"),
            (
                ConstraintKind::Check,
                "ck_audit_events_latency_ms",
                "latency_ms",
            ),
            (
                ConstraintKind::Check,
                "ck_enrollment_tokens_token_hash_format",
                "token_hash",
            ),
            (
                ConstraintKind::Check,
                "ck_admin_identities_email_non_empty",
                "email",
            ),
            (
                ConstraintKind::Check,
                "ck_enrollment_tokens_expires_after_created",
                "expires_at",
            ),
            (
                ConstraintKind::Check,
                "ck_audit_events_timestamp_near_created_at",
                "timestamp",
            ),
            (
                ConstraintKind::Check,
                "ck_crypto_verification_defaults_max_clock_skew_seconds",
                "max_clock_skew_seconds",
            ),
            (ConstraintKind::Check, "ck_system_audit_seals_link", "row"),
            (ConstraintKind::Check, "ck_jobs_queue_format", "queue"),
            (
                ConstraintKind::Check,
                "ck_db_repair_runs_actual_hash_format",
                "actual_hash",
            ),
            (
                ConstraintKind::Check,
                "ck_db_repair_runs_summary_length",
                "summary",
            ),
            (
                ConstraintKind::Check,
                "ck_db_repair_runs_error_code_when_failed",
                "error_code",
            ),
            (
                ConstraintKind::ForeignKey,
                "fk_enrollment_tokens_workload",
                "workload_id",
            ),
            (
                ConstraintKind::ForeignKey,
                "fk_admin_identity_tenant_scopes_tenant",
                "tenant_id",
            ),
            (
                ConstraintKind::ForeignKey,
                "fk_secrets_integration",
                "integration_id",
            ),
            (
                ConstraintKind::ForeignKey,
                "secrets_active_version_fkey",
                "active_version",
            ),
        ] {
            assert_eq!(constraint_field(kind, constraint), field, "{constraint}");
        }
    }
}
