//! brokerdb-projects — the project store, a second domain on brokerdb's core.
//!
//! A tenant registers projects (a repository URL, a JSON config and an encrypted webhook
//! secret); the project's design artifacts (PRDs, epics, stories, architecture notes) are
//! versioned by path; webhook deliveries from GitHub, GitLab or Bitbucket are recorded and
//! deduplicated while in flight; every MCP tool call against a project is written to an
//! append-only audit log. Every table carries `tenant_id` under the core's row-level security,
//! and every repository function runs in a tenant scope of [`brokerdb_core::db::Db`].
//!
//! | module | what it holds |
//! |---|---|
//! | [`migrations`] | the `projects` migration set ([`migration_set`]), applied after the broker's |
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
//! The crate depends on `brokerdb-core` (scopes, errors, paging, migration runner, job queue) and
//! `brokerdb-redis` (connection, pub/sub), not on the broker's repositories. Its schema is the
//! `projects` migration set (`migrations/`), applied after the broker's set, whose `tenants`
//! table (the tenant directory) and database roles it builds on:
//! `apply_sets(&mut client, &[brokerdb::migrate::broker_set(), brokerdb_projects::migration_set()])`.

pub mod artifacts;
mod constraints;
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
pub use migrations::migration_set;
pub use model::{ArtifactType, McpResult, WebhookSource, WebhookStatus};
pub use secret::{SecretBytes, SecretKey};

#[cfg(test)]
mod tests {
    /// The workspace crates a manifest's `[dependencies]` table names.
    fn workspace_dependencies(manifest: &str) -> Vec<&str> {
        manifest
            .split("\n[")
            .filter(|section| section.starts_with("dependencies]"))
            .flat_map(|section| section.lines().skip(1))
            .filter_map(|line| line.split(['.', ' ', '=']).next())
            .filter(|name| name.starts_with("brokerdb"))
            .collect()
    }

    #[test]
    fn the_project_store_builds_on_the_core_alone_and_the_core_on_no_domain() {
        let own = include_str!("../Cargo.toml");
        assert_eq!(workspace_dependencies(own), ["brokerdb-core"]);
        let core = include_str!("../../brokerdb-core/Cargo.toml");
        assert_eq!(workspace_dependencies(core), Vec::<&str>::new());
    }
}
