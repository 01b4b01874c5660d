//! Integration tests of the project store against real PostgreSQL (`DATABASE_URL`, or a private
//! cluster the testkit starts) and Redis; each test gets its own database migrated with both
//! sets.
//!
//! - `migrations`: both sets in one ledger, in order, idempotent; enum labels.
//! - `projects`, `artifacts`, `webhooks`, `mcp_log`: each repository's behaviour.
//! - `isolation`: every repository function across two tenants.
//! - `rate_limit`, `events`, `scan_job`: the Redis token buckets, the project channel, the
//!   `artifact-scan` job.
//! - `intake`: webhook intake — signature, dedupe, scan enqueue, the missing-scan sweep.
//! - `props`: property tests of the inputs from outside (webhook signatures, canonical MCP
//!   arguments, stored secret envelopes, ids and labels, project fields), thousands of cases.
//! - `support`: shared fixtures.

mod artifacts;
mod events;
mod intake;
mod isolation;
mod mcp_log;
mod migrations;
mod projects;
mod props;
mod rate_limit;
mod scan_job;
mod support;
mod webhooks;
