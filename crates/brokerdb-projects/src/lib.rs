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
//! | [`rate_limit`] | the MCP tool-call token buckets in Redis ([`rate_limit::McpRateLimiter`]) |
//! | [`events`] | the project channel over Redis pub/sub ([`events::ProjectEvents`]) |
//! | [`scan_job`] | the `artifact-scan` job on the core's queue ([`scan_job::enqueue_artifact_scan`]) |

pub mod events;
pub mod ids;
pub mod migrations;
pub mod rate_limit;
pub mod scan_job;

pub use ids::{ArtifactId, McpLogId, ProjectId, WebhookEventId};
pub use migrations::{all_sets, migration_set};
