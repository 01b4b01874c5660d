//! brokerdb-core — the domain-free core that brokerdb's domains are built on.
//!
//! It knows PostgreSQL, row-level security keyed on a transaction-local tenant setting, and the
//! three database roles; it knows no domain's tables. A domain crate (the credential broker,
//! `brokerdb`; the project store, `brokerdb-projects`) brings its own migration set, declares its
//! constraint vocabulary ([`db::ConstraintFields`]) and writes its repositories as `async fn`s
//! over the executors here. The library never reads the environment.
//!
//! | module | what it holds |
//! |---|---|
//! | [`db`] | the [`Db`](db::Db) handle and [`Db::connect`](db::Db::connect); the tenant and system scopes, executors and transactions (with retry); [`DbError`](db::DbError) and its codes; paging and signed cursors; pools, TLS, metrics |
//! | [`migrate`] | migration sets ([`MigrationSet`]) sharing one ledger, and their runner |
//! | [`jobs`] | the background job queue in PostgreSQL: enqueue in the caller's transaction, claim with `SKIP LOCKED`, leases, retries with backoff, dead letters; the [`Worker`](jobs::Worker) and the scheduler of periodic jobs |
//! | [`scalar`] | validated values every domain shares: [`TenantId`](scalar::TenantId), [`Timestamp`](scalar::Timestamp), trimmed text, the business-id rule and [`text_id!`] |
//! | [`conninfo`] | connection strings with TLS settings; per-role settings derived from an admin URL |
//! | [`roles`] | the names of the three database roles |
//! | [`task`] | the stop handle of background tasks |
//! | `redis` | (feature `redis`) the Redis connection, the adapters' error, pub/sub, the key-part encoding |
//!
//! ```no_run
//! use brokerdb_core::db::{ConnectOptions, Db, Exec};
//! use brokerdb_core::scalar::TenantId;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // A migrated database (the domain's migration sets applied by `brokerdb migrate`).
//! let db = Db::connect(ConnectOptions::from_admin_url(
//!     "postgres://postgres@127.0.0.1:5432/brokerdb",
//! )?)
//! .await?;
//! let tenant = TenantId::parse("t_acme")?;
//! let mut scope = db.tenant(&tenant); // every statement under row-level security for t_acme
//! let queued: i64 = scope
//!     .op("example", "count_jobs")
//!     .query_one("SELECT count(*) FROM jobs", &[], |row| Ok(row.get(0)))
//!     .await?;
//! # let _ = queued;
//! # Ok(()) }
//! ```

pub mod conninfo;
pub mod db;
pub mod jobs;
pub mod migrate;
#[cfg(feature = "redis")]
pub mod redis;
pub mod roles;
pub mod scalar;
pub mod task;

pub use inventory;
pub use migrate::{Migration, MigrationError, MigrationSet, MigrationState, MigrationStatus};

/// What the exported macros ([`text_id!`], [`impl_text_newtype!`]) name, so a crate using them
/// needs no dependency of its own on these crates.
#[doc(hidden)]
pub mod __macro_support {
    pub use serde;
    pub use tokio_postgres;
    pub use uuid;
}
