//! The data layer every repository uses: the [`Db`] handle, its two scopes, executors,
//! transactions with retry, the error type, paging, and observability.
//!
//! - **Handle.** [`Db::connect`] builds the runtime and system pools from [`ConnectOptions`] and
//!   refuses roles that would switch isolation off ([`ConnectError::UnsafeRole`]);
//!   [`Db::from_pools`] does the same check on pools the application built ([`pool::build`]).
//! - **Scopes.** There is no default scope. [`Db::tenant`] gives a [`TenantScope`]: the runtime
//!   role, with `brokerdb.tenant_id` set for each transaction, so row-level security shows only
//!   that tenant's rows. [`Db::system`] gives a [`SystemScope`]: the `BYPASSRLS` role, for
//!   lookups made before the tenant is known, sweeps and global admin data. The pools are
//!   private, so no statement runs without choosing one.
//! - **Executors.** A repository function takes `&mut impl TenantExec` or `&mut impl SystemExec`:
//!   the scope (each statement its own transaction, one round trip) or a transaction of that
//!   scope ([`TenantTx`], [`SystemTx`]), so several functions of one scope compose in one
//!   transaction. Inside, `exec.op(REPO, "name")` gives an [`Op`] that runs the statement, maps
//!   the rows and records the operation's metrics.
//! - **Transactions.** `scope.transaction(&opts, |tx| Box::pin(async move { … }))` commits on
//!   `Ok`, rolls back on `Err`, panic or cancellation, and retries serialization failures and
//!   deadlocks; `try_transaction` takes the caller's own error type ([`TxError`]);
//!   `scope.begin(&opts)` is the explicit form (dropped without `commit`, it rolls back).
//! - **Errors.** [`DbError`] with a stable [`ErrorCode`]; SQLSTATEs are mapped in one place.
//! - [`paging`]: offset pages and their envelope, sort allowlists, signed keyset cursors.
//!   [`pool`], [`tls`]: pools and libpq-style TLS. [`warn`]: rate-limited warnings.

mod cancel;
mod connect;
mod constraints;
mod error;
mod exec;
pub mod listing;
mod observe;
mod op;
pub mod paging;
pub mod pool;
mod scope;
mod statement;
pub mod tls;
mod transaction;
pub mod warn;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use connect::{ConnectError, ConnectOptions, PoolRole};
pub use constraints::{ConstraintFields, ConstraintKind, constraint_field};
pub use deadpool_postgres::Pool;
pub use error::{DbError, ErrorCode};
pub use exec::{Exec, SystemExec, TenantExec};
pub use op::Op;
pub use paging::CursorKey;
pub use scope::{Params, SystemScope, TenantScope};
pub use tokio_postgres::Row;
pub use transaction::{IsolationLevel, SystemTx, TenantTx, TxError, TxFuture, TxOptions};

/// Tunables of the data layer; the application fills them from its configuration.
#[derive(Debug, Clone)]
pub struct DbSettings {
    /// Operations slower than this count in `brokerdb_slow_ops_total` (default 300 ms).
    pub slow_threshold: Duration,
    /// Log every statement with its duration (never its parameters).
    pub trace_statements: bool,
    /// Offset-paged lists count matching rows exactly up to this many (default 1,000); beyond,
    /// the page's `total` is the planner's estimate and `total_is_estimate` is set, so a page
    /// never costs as much as reading every match.
    pub exact_total_limit: u32,
    /// How statements reach the server: named prepared statements cached per connection (the
    /// default) or unnamed ones, for PgBouncer in transaction mode ([`StatementMode`]).
    pub statement_mode: StatementMode,
}

/// How the data layer sends statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatementMode {
    /// Named prepared statements, cached per connection: a statement is parsed and planned once
    /// per connection, then only bound and executed. For direct connections and poolers that
    /// keep prepared statements (PgBouncer ≥ 1.21 with `max_prepared_statements`).
    #[default]
    Prepared,
    /// Unnamed statements (the extended protocol's unnamed statement, `query_typed`): each call
    /// sends parse, bind and execute in one round trip and leaves nothing on the server after its
    /// transaction. For PgBouncer in transaction mode before 1.21, where a named statement
    /// prepared on one server connection is unknown on the next. The parameter types of each
    /// statement are learned once per process (inside a transaction, so every message of the
    /// learning reaches one server connection); each new connection resolves the database's
    /// enum and domain types once, inside a transaction, so no later type lookup can straddle
    /// two server connections. Costs the parse on every call (see `brokerdb bench`).
    Unnamed,
}

impl std::str::FromStr for StatementMode {
    type Err = crate::scalar::ValidationError;

    /// `prepared` or `unnamed` (case-insensitive, trimmed).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "prepared" => Ok(Self::Prepared),
            "unnamed" => Ok(Self::Unnamed),
            _ => Err(crate::scalar::ValidationError::new(
                "statement_mode",
                "must be prepared or unnamed",
            )),
        }
    }
}

/// Default of [`DbSettings::exact_total_limit`].
pub const DEFAULT_EXACT_TOTAL_LIMIT: u32 = 1_000;

impl Default for DbSettings {
    fn default() -> Self {
        Self {
            slow_threshold: Duration::from_millis(300),
            trace_statements: false,
            exact_total_limit: DEFAULT_EXACT_TOTAL_LIMIT,
            statement_mode: StatementMode::Prepared,
        }
    }
}

/// The handle repositories work through, built from pools the application owns by
/// [`Db::connect`] (or [`Db::from_pools`]), which refuse pools whose roles would switch tenant isolation off.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    runtime: Pool,
    system: Pool,
    settings: DbSettings,
    cursor_key: CursorKey,
    tx_retries: AtomicU64,
    /// Parameter types per statement text, learned once ([`StatementMode::Unnamed`] only).
    param_types: statement::ParamTypes,
    /// The TLS connectors of cancel requests ([`Db::set_cancel_tls`]).
    cancel_tls: cancel::CancelTls,
}

impl Db {
    /// The handle over two pools, unchecked: only [`Db::from_pools`] (which checks the pools' roles
    /// first) hands it out.
    fn assemble(runtime: Pool, system: Pool, settings: DbSettings, cursor_key: CursorKey) -> Self {
        Self {
            inner: Arc::new(Inner {
                runtime,
                system,
                settings,
                cursor_key,
                tx_retries: AtomicU64::new(0),
                param_types: statement::ParamTypes::default(),
                cancel_tls: cancel::CancelTls::default(),
            }),
        }
    }

    /// The tenant scope: every statement runs in a transaction with `brokerdb.tenant_id` set,
    /// as the runtime role, so row-level security shows only `tenant`'s rows.
    pub fn tenant<'a>(&'a self, tenant: &'a crate::scalar::TenantId) -> TenantScope<'a> {
        TenantScope::new(self, tenant)
    }

    /// The system scope (BYPASSRLS): for lookups that have no tenant yet, sweeps and global
    /// admin data. Every use must say why in its doc.
    pub fn system(&self) -> SystemScope<'_> {
        SystemScope::new(self)
    }

    /// The key that signs keyset cursors.
    pub fn cursor_key(&self) -> &CursorKey {
        &self.inner.cursor_key
    }

    /// Transactions retried after a serialization failure or deadlock since start.
    pub fn tx_retries(&self) -> u64 {
        self.inner.tx_retries.load(Ordering::Relaxed)
    }

    /// Publishes the pool gauges (`brokerdb_pool_connections{pool,state}`); call before rendering
    /// metrics.
    pub fn record_pool_gauges(&self) {
        for (name, pool) in [
            ("runtime", &self.inner.runtime),
            ("system", &self.inner.system),
        ] {
            let status = pool.status();
            metrics::gauge!("brokerdb_pool_connections", "pool" => name, "state" => "size")
                .set(status.size as f64);
            metrics::gauge!("brokerdb_pool_connections", "pool" => name, "state" => "available")
                .set(status.available as f64);
            metrics::gauge!("brokerdb_pool_connections", "pool" => name, "state" => "waiting")
                .set(status.waiting as f64);
            metrics::gauge!("brokerdb_pool_connections", "pool" => name, "state" => "max")
                .set(status.max_size as f64);
        }
    }

    pub(crate) fn settings(&self) -> &DbSettings {
        &self.inner.settings
    }

    pub(crate) fn cancel_tls(&self) -> &cancel::CancelTls {
        &self.inner.cancel_tls
    }

    pub(crate) fn param_types(&self) -> &statement::ParamTypes {
        &self.inner.param_types
    }

    /// The metrics label of the pool [`Db::pool`] picks for `system`.
    pub(crate) fn pool_label(system: bool) -> &'static str {
        if system { "system" } else { "runtime" }
    }

    pub(crate) fn pool(&self, system: bool) -> &Pool {
        if system {
            &self.inner.system
        } else {
            &self.inner.runtime
        }
    }

    pub(crate) fn count_retry(&self) {
        self.inner.tx_retries.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("brokerdb_tx_retries_total").increment(1);
    }
}
