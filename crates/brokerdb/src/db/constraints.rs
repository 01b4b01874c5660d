//! What each unique constraint of the schema guards, named as the API names it.
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
        "uq_approval_requests_pending_descriptor" => "descriptor",
        "uq_audit_events_event_id"
        | "uq_ssrf_guard_decisions_event_id"
        | "uq_audit_seals_tenant_event"
        | "uq_system_audit_events_event_id"
        | "uq_system_audit_seals_event" => "event_id",
        "uq_template_invalidation_outbox_signal" => "signal",
        "audit_seals_pkey" | "system_audit_seals_pkey" => "chain_seq",
        c if c.ends_with("_pkey") => "id",
        _ => "key",
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
            unique_field("uq_approval_requests_pending_descriptor"),
            "descriptor"
        );
        assert_eq!(unique_field("workloads_pkey"), "id");
        assert_eq!(unique_field("something_new"), "key");
    }
}
