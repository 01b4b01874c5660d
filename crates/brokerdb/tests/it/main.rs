//! Integration tests of the schema and the migration runner, against real PostgreSQL.

mod audit_chain;
mod cross_tenant;
mod db_scope;
mod db_tx;
mod isolation;
mod migrations;
mod privileges;
mod repo_admin;
mod repo_approvals;
mod repo_audit_events;
mod repo_audit_profiles;
mod repo_enrollment_tokens;
mod repo_integrations;
mod repo_policy_rules;
mod repo_secrets;
mod repo_sessions;
mod repo_templates;
mod repo_tenants;
mod repo_users;
mod repo_workloads;
mod schema;
mod support;
mod tls;

pub use support::{TestResult, count_rows, db_message, sqlstate};
