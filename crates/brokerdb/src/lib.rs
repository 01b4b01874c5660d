//! brokerdb — the persistence layer of a multi-tenant API credential broker.
//!
//! PostgreSQL is the system of record. Every tenant table has row-level security keyed on a
//! transaction-local setting, and the runtime role cannot bypass it, so a tenant sees only its
//! own rows even when a query forgets its `WHERE tenant_id`. The library never reads the
//! environment: the application gives it connection settings (or pools of its own).
//!
//! The domain-free core — [`db`], [`migrate`]'s runner, [`jobs`]' queue, [`scalar`],
//! [`conninfo`], [`roles`], [`task`] — is the crate `brokerdb-core`, re-exported here under the
//! same paths; this crate adds the broker's schema, repositories, audit trail and outbox.
//!
//! | module | what it holds |
//! |---|---|
//! | [`db`] | the [`Db`](db::Db) handle and [`Db::connect`](db::Db::connect); the tenant and system scopes, executors and transactions (with retry); [`DbError`](db::DbError) and its codes; paging and signed cursors; pools, TLS, metrics |
//! | [`repo`] | one module per aggregate (tenants, users, workloads, enrollment tokens, sessions, integrations, secrets, templates, policy rules, approvals, audit events, admin), each a few `async fn`s whose first parameter says where they run |
//! | [`jobs`] | the background job queue in PostgreSQL: enqueue in the caller's transaction, claim with `SKIP LOCKED`, leases, retries with backoff, dead letters; the [`Worker`](jobs::Worker), the scheduler of periodic jobs, and the sweeps that run as jobs |
//! | [`audit`] | the one way into the audit trail ([`audit::append`], [`audit::append_system`]), the sealer that chains rows after commit, signed checkpoints, verification |
//! | [`outbox`] | the relay that publishes the template-invalidation outbox at least once, with retries and backoff |
//! | [`repair_runs`] | the append-only run ledger of the database repair console, and the "lawbook hash" of the applied migrations |
//! | [`task`] | the stop handle of the background tasks above (sealer, relay, job worker and scheduler) |
//! | [`model`] | validated values (ids, hosts, methods, timestamps, …), the schema's enums, the canonical request descriptor |
//! | [`migrate`] | the broker's migration set (`migrations/`, embedded) and the runner |
//! | [`conninfo`] | connection strings with TLS settings; per-role settings derived from an admin URL |
//! | [`roles`] | the names of the three database roles |
//! | [`prelude`] | the common imports, executor traits included |
//!
//! ```no_run
//! use brokerdb::db::ConnectOptions;
//! use brokerdb::prelude::*;
//! use brokerdb::repo::tenants;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // Migrated database; the URL's user is an owner or superuser (`brokerdb migrate` ran).
//! let db = Db::connect(ConnectOptions::from_admin_url(
//!     "postgres://postgres@127.0.0.1:5432/brokerdb",
//! )?)
//! .await?;
//! let tenant = TenantId::parse("t_acme")?;
//! tenants::create(&mut db.system(), "Acme", Some(tenant.clone())).await?; // system scope
//! let own = tenants::get_own(&mut db.tenant(&tenant)).await?; // tenant scope, under RLS
//! assert_eq!(own.map(|t| t.name).as_deref(), Some("Acme"));
//! # Ok(()) }
//! ```
//!
//! `docs/architecture.md` in the repository describes the layers and the path of a call;
//! `examples/` has runnable programs.
//!
//! Doc comments sometimes compare with "the original" (or "the reference"): the TypeScript
//! module whose data model and behaviour brokerdb took over. Where brokerdb differs on purpose,
//! the doc of the function says how and why.

pub mod audit;
mod constraints;
pub mod jobs;
pub mod migrate;
pub mod model;
pub mod outbox;
pub mod prelude;
pub mod repair_runs;
pub mod repo;

pub use brokerdb_core::{conninfo, db, roles, scalar, task};
pub use migrate::{Migration, MigrationError, MigrationState, MigrationStatus};
