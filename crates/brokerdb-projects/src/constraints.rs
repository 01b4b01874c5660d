//! The project store's constraint vocabulary: its tables, and the field each of its constraints
//! guards as the API names it (the core maps database errors with it; see
//! [`ConstraintFields`](brokerdb_core::db::ConstraintFields)).

use brokerdb_core::db::ConstraintFields;

brokerdb_core::inventory::submit! {
    ConstraintFields {
        tables: &["webhook_events", "mcp_audit_log", "artifacts", "projects"],
        unique: &[
            ("uq_projects_project_id", "project_id"),
            ("uq_artifacts_tenant_project_path", "path"),
            ("uq_webhook_events_in_flight_payload", "payload_hash"),
        ],
        checks: &[],
        foreign_keys: &[("project", "project_id"), ("tenant", "tenant_id")],
    }
}

#[cfg(test)]
mod tests {
    use brokerdb_core::db::{ConstraintKind, constraint_field};

    #[test]
    fn the_project_constraints_map_to_the_fields_they_guard() {
        for (kind, constraint, field) in [
            (
                ConstraintKind::Unique,
                "uq_projects_project_id",
                "project_id",
            ),
            (
                ConstraintKind::Unique,
                "uq_artifacts_tenant_project_path",
                "path",
            ),
            (ConstraintKind::Unique, "projects_pkey", "id"),
            (ConstraintKind::Check, "ck_artifacts_path_length", "path"),
            (
                ConstraintKind::Check,
                "ck_mcp_audit_log_tool_format",
                "tool",
            ),
            (
                ConstraintKind::ForeignKey,
                "fk_artifacts_project",
                "project_id",
            ),
            (
                ConstraintKind::ForeignKey,
                "fk_projects_tenant",
                "tenant_id",
            ),
        ] {
            assert_eq!(constraint_field(kind, constraint), field, "{constraint}");
        }
    }
}
