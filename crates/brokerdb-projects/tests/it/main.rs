//! Integration tests of the project store against real PostgreSQL (`DATABASE_URL`, or a private
//! cluster the testkit starts); each test gets its own database migrated with both sets.
//!
//! - `migrations`: both sets in one ledger, in order, idempotent.
//! - `projects`, `artifacts`, `webhooks`, `mcp_log`: each repository's behaviour.
//! - `isolation`: every function across two tenants.
//! - `support`: shared fixtures.

mod artifacts;
mod isolation;
mod mcp_log;
mod migrations;
mod projects;
mod support;
mod webhooks;
