//! brokerdb-projects — the project store, a second domain on brokerdb's core.
//!
//! A tenant registers projects (a repository URL, a JSON config and an encrypted webhook
//! secret); the project's design artifacts (PRDs, epics, stories, architecture notes) are
//! versioned by path; webhook deliveries from GitHub, GitLab or Bitbucket are recorded and
//! deduplicated while in flight; every MCP tool call against a project is written to an
//! append-only audit log. Every table carries `tenant_id` under the core's row-level security,
//! and every repository function runs in a tenant scope of [`brokerdb::db::Db`].
//!
//! | module | what it holds |
//! |---|---|
//! | [`migrations`] | the `projects` migration set ([`migration_set`]), applied after the core's |
//! | [`ids`] | the validated ids ([`ProjectId`], [`ArtifactId`], [`WebhookEventId`], [`McpLogId`]) |
//! | [`model`] | the schema's enums ([`ArtifactType`], [`WebhookSource`], [`McpResult`], [`WebhookStatus`]) |
//! | [`projects`] | projects: create, get, list, update, delete, `touch_last_seen`, `webhook_secret` |
//! | [`artifacts`] | artifacts: upsert by path with versions, get, list by type / recency |
//! | [`webhooks`] | webhook events: deduplicated `receive`, state transitions, unprocessed list |
//! | [`mcp_log`] | the append-only MCP audit log: append, query by project / actor / tool |
//! | [`secret`] | the AES-256-GCM envelope of webhook secrets ([`SecretKey`], [`SecretBytes`]) |
//! | [`error`] | [`ProjectsError`]: the core's `DbError` or a secret that cannot be sealed/opened |
//! | [`rate_limit`] | the MCP tool-call token buckets in Redis ([`rate_limit::McpRateLimiter`]) |
//! | [`events`] | the project channel over Redis pub/sub ([`events::ProjectEvents`]) |
//! | [`intake`] | webhook intake: GitHub signature check, deduplicated store, scan enqueue ([`intake::accept_webhook`]) |
//! | [`scan_job`] | the `artifact-scan` job on the core's queue ([`scan_job::enqueue_artifact_scan`]) |
//! | [`scan_sweep`] | the periodic sweep that enqueues scans a stopped intake missed |
//!
//! Every repository function takes the tenant executor first (`&mut db.tenant(&tenant_id)` or a
//! `TenantTx`), so functions compose in one transaction and row-level security does the
//! isolation: another tenant's rows are invisible (`None`, `not_found`, `false`), and a reference
//! to another tenant's project is refused.
//!
//! The schema is the `projects` migration set (`migrations/`), applied after the core's:
//! `brokerdb::migrate::apply_sets(&mut client, &brokerdb_projects::all_sets())`.

pub mod artifacts;
pub mod error;
pub mod events;
pub mod ids;
pub mod intake;
pub mod mcp_log;
pub mod migrations;
pub mod model;
pub mod projects;
pub mod rate_limit;
pub mod scan_job;
pub mod scan_sweep;
pub mod secret;
pub mod webhooks;

pub use error::ProjectsError;
pub use ids::{ArtifactId, McpLogId, ProjectId, WebhookEventId};
pub use migrations::{all_sets, migration_set};
pub use model::{ArtifactType, McpResult, WebhookSource, WebhookStatus};
pub use secret::{SecretBytes, SecretKey};
