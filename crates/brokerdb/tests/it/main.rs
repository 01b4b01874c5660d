//! Integration tests of the `brokerdb` library against real PostgreSQL (`DATABASE_URL`, or a
//! private cluster the testkit starts); each test gets its own freshly migrated database.
//!
//! - Schema and roles: `schema` (catalogue invariants), `privileges` (each role's exact
//!   privileges), `isolation` (row-level security as the runtime role sees it), `migrations`
//!   (the runner), `tls` (encrypted connections to a private cluster).
//! - Data layer: `db_scope` (scopes, error mapping), `db_tx` (transactions, composition, retry).
//! - Repositories: one `repo_*` module per repository; `cross_tenant` calls every tenant-scoped
//!   function across tenants; `audit_chain` covers appends, sealing, checkpoints and verify.
//! - `repair_runs`: the repair console's append-only run ledger and the lawbook hash.
//! - `jobs`: the background job queue: enqueue and dedupe, leases, dead letters, concurrent
//!   workers, the scheduler and the sweeps.
//! - `list_plans`: plan guards of every list on a scale database seeded once per process (a
//!   million rows in a tenant), under custom and generic plans.
//! - `props`: property tests of every parser and normaliser of outside input (cursors, hosts,
//!   allowlists, descriptors, stored JSON snapshots, envelopes), thousands of cases each.
//! - `citus`: the Citus-readiness rule on the migrated catalogue (`docs/scaling.md`).
//! - `support`: shared fixtures.

mod audit_chain;
mod citus;
mod cross_tenant;
mod db_scope;
mod db_tx;
mod isolation;
mod jobs;
mod list_plans;
mod migrations;
mod privileges;
mod props;
mod repair_runs;
mod repo_admin;
mod repo_api_tokens;
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
