//! Transactions that know their scope by type: [`TenantTx`] and [`SystemTx`].
//!
//! Two ways to use one:
//! - **closure**: `scope.transaction(&opts, |tx| Box::pin(async move { … }))` commits when the
//!   work succeeds, rolls back when it fails, panics or is cancelled, and retries the whole work
//!   after a serialization failure or deadlock (SQLSTATE 40001/40P01) with jittered exponential
//!   backoff, within `opts.max_attempts` and `opts.deadline`. The work's error type is the
//!   caller's (any [`TxError`]), so a deliberate rollback needs no fake database error;
//! - **explicit**: `let mut tx = scope.begin(&opts).await?; …; tx.commit().await?` (no retries; a
//!   transaction dropped without `commit` rolls back).
//!
//! A transaction sends nothing when it begins: `BEGIN`, the settings (`brokerdb.tenant_id`,
//! `statement_timeout`, `lock_timeout`) and its first statement go out together, pipelined, as
//! prepared statements (pipelining keeps its order only then), so the first statement costs one
//! round trip, not three. The tenant setting is transaction-local (PgBouncer transaction mode
//! safe).

use std::time::{Duration, Instant};

use deadpool_postgres::Object;
use tokio_postgres::types::ToSql;

use super::exec::private::{Run, Want};
use super::exec::{Exec, SystemExec, TenantExec};
use super::scope::{Outcome, checkout, run_cached};
use super::statement;
use super::warn::RateLimited;
use super::{Db, DbError, Params, SystemScope, TenantScope};
use crate::scalar::TenantId;

/// Settings of a transaction, in one statement: the tenant (`''` for the system role) and the
/// optional statement / lock timeouts.
const SETTINGS: &str = "SELECT set_config('brokerdb.tenant_id', COALESCE($1, ''), true), \
     set_config('statement_timeout', COALESCE($2, current_setting('statement_timeout')), true), \
     set_config('lock_timeout', COALESCE($3, current_setting('lock_timeout')), true)";
const COMMIT: &str = "COMMIT";
const ROLLBACK: &str = "ROLLBACK";

static EXHAUSTED_WARNING: RateLimited = RateLimited::new(Duration::from_secs(60));

/// What the work of a closure transaction returns: a boxed, `Send` future borrowing the
/// transaction. Write `|tx| Box::pin(async move { … })`.
pub type TxFuture<'t, T, E = DbError> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, E>> + Send + 't>>;

/// The error type of a closure transaction's work: any error a [`DbError`] converts into, that
/// can say which database error (if any) it carries, so retryable ones are retried.
pub trait TxError: From<DbError> + Send {
    /// The database error inside, if this is one.
    fn as_db_error(&self) -> Option<&DbError>;
}

impl TxError for DbError {
    fn as_db_error(&self) -> Option<&DbError> {
        Some(self)
    }
}

/// Transaction isolation level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IsolationLevel {
    /// PostgreSQL's default.
    #[default]
    ReadCommitted,
    /// Snapshot isolation.
    RepeatableRead,
    /// Serializable; pair it with retries (the default options retry).
    Serializable,
}

/// How a transaction runs and how hard a closure transaction retries.
#[derive(Debug, Clone)]
pub struct TxOptions {
    /// Isolation level.
    pub isolation: IsolationLevel,
    /// `READ ONLY` transaction.
    pub read_only: bool,
    /// `statement_timeout` for this transaction (`None`: the server's setting).
    pub statement_timeout: Option<Duration>,
    /// `lock_timeout` for this transaction (`None`: the server's setting).
    pub lock_timeout: Option<Duration>,
    /// Attempts in all, including the first (at least 1).
    pub max_attempts: u32,
    /// No new attempt starts after this much time since the first began.
    pub deadline: Duration,
    /// First backoff; doubles per attempt up to `max_backoff`, with full jitter.
    pub base_backoff: Duration,
    /// Largest backoff.
    pub max_backoff: Duration,
}

impl Default for TxOptions {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl TxOptions {
    /// Read committed, read-write, the server's timeouts, 5 attempts within 10 s, backoff 5 ms
    /// doubling to 200 ms. A constant, so `&TxOptions::DEFAULT` lives as long as needed.
    pub const DEFAULT: Self = Self {
        isolation: IsolationLevel::ReadCommitted,
        read_only: false,
        statement_timeout: None,
        lock_timeout: None,
        max_attempts: 5,
        deadline: Duration::from_secs(10),
        base_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(200),
    };

    /// Serializable, otherwise default.
    pub fn serializable() -> Self {
        Self {
            isolation: IsolationLevel::Serializable,
            ..Self::default()
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let cap = self
            .base_backoff
            .saturating_mul(1 << attempt.min(16))
            .min(self.max_backoff);
        let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::random_range(0..=nanos))
    }

    /// The `BEGIN` statement these options ask for (one constant per combination, so it can be
    /// prepared and pipelined).
    fn begin_sql(&self) -> &'static str {
        match (self.isolation, self.read_only) {
            (IsolationLevel::ReadCommitted, false) => "BEGIN",
            (IsolationLevel::ReadCommitted, true) => "BEGIN READ ONLY",
            (IsolationLevel::RepeatableRead, false) => "BEGIN ISOLATION LEVEL REPEATABLE READ",
            (IsolationLevel::RepeatableRead, true) => {
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
            }
            (IsolationLevel::Serializable, false) => "BEGIN ISOLATION LEVEL SERIALIZABLE",
            (IsolationLevel::Serializable, true) => "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY",
        }
    }
}

/// What both transaction types share: a checked-out connection and the prologue still to send.
struct TxCore {
    /// `None` once committed or rolled back.
    client: Option<Object>,
    db: Db,
    /// `None` for the system role.
    tenant: Option<TenantId>,
    begin: &'static str,
    statement_timeout: Option<String>,
    lock_timeout: Option<String>,
    /// The prologue went out (the server has a transaction open).
    started: bool,
    /// A statement failed because the connection is unusable: it is never returned to the pool.
    broken: bool,
}

impl TxCore {
    async fn begin(db: &Db, tenant: Option<&TenantId>, opts: &TxOptions) -> Result<Self, DbError> {
        let client = checkout(db, tenant.is_none()).await?;
        let ms = |d: Option<Duration>| d.map(|d| format!("{}ms", d.as_millis().max(1)));
        Ok(Self {
            client: Some(client),
            db: db.clone(),
            tenant: tenant.cloned(),
            begin: opts.begin_sql(),
            statement_timeout: ms(opts.statement_timeout),
            lock_timeout: ms(opts.lock_timeout),
            started: false,
            broken: false,
        })
    }

    fn client(&self) -> Result<&Object, DbError> {
        self.client.as_ref().ok_or(DbError::Unexpected {
            message: "the transaction has ended".into(),
        })
    }

    async fn run(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
        want: Want,
    ) -> Result<Outcome, DbError> {
        let result = if self.started {
            run_cached(&self.db, self.client()?, sql, params, want, true).await
        } else {
            self.run_first(sql, params, want).await
        };
        if matches!(result, Err(DbError::Unavailable { .. })) {
            self.broken = true;
        }
        result
    }

    /// `BEGIN`, the settings and the first statement, pipelined (one round trip once the three
    /// are prepared on this connection).
    async fn run_first(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
        want: Want,
    ) -> Result<Outcome, DbError> {
        let client = self.client.as_ref().ok_or(DbError::Unexpected {
            message: "the transaction has ended".into(),
        })?;
        let begin = statement::ready(&self.db, client, self.begin, false).await?;
        let settings = statement::ready(&self.db, client, SETTINGS, false).await?;
        let stmt = statement::ready(&self.db, client, sql, false).await?;
        let tenant = self.tenant.as_ref().map(TenantId::as_str);
        let settings_params: [&(dyn ToSql + Sync); 3] =
            [&tenant, &self.statement_timeout, &self.lock_timeout];
        self.started = true;
        let started = Instant::now();
        // join! polls in order, and each call sends its messages on its first poll.
        let (b, s, out) = tokio::join!(
            statement::run(client, &begin, self.begin, &[], Want::Count),
            statement::run(client, &settings, SETTINGS, &settings_params, Want::Count),
            statement::run(client, &stmt, sql, params, want),
        );
        self.db.trace_statement(sql, started);
        Ok(b.and(s).and(out)?)
    }

    async fn finish(&mut self, sql: &'static str) -> Result<(), DbError> {
        let Some(client) = self.client.take() else {
            return Ok(());
        };
        let result = if self.started {
            statement::run_bare(&self.db, &client, sql).await
        } else {
            Ok(())
        };
        let result = result.map_err(DbError::from);
        if self.broken || matches!(result, Err(DbError::Unavailable { .. })) {
            drop(Object::take(client));
        }
        result
    }
}

impl Drop for TxCore {
    /// Dropped open (an error, a panic, a cancelled future): roll back. The connection goes back to
    /// the pool only after the `ROLLBACK` has run; without a runtime, or when it is broken, it is
    /// closed instead (the server rolls back).
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        if !self.started {
            return; // nothing was sent: the connection is clean
        }
        match tokio::runtime::Handle::try_current() {
            Ok(handle) if !self.broken => {
                handle.spawn(async move {
                    if client.batch_execute(ROLLBACK).await.is_err() {
                        drop(Object::take(client));
                    }
                });
            }
            _ => drop(Object::take(client)),
        }
    }
}

/// An open transaction of one tenant (runtime role, row-level security). Dropped without
/// [`TenantTx::commit`] it rolls back.
pub struct TenantTx {
    core: TxCore,
}

/// An open transaction of the system role. Dropped without [`SystemTx::commit`] it rolls back.
pub struct SystemTx {
    core: TxCore,
}

macro_rules! finish_methods {
    ($name:ident) => {
        impl $name {
            /// Commits. A transaction that ran no statement has nothing to commit.
            pub async fn commit(mut self) -> Result<(), DbError> {
                self.core.finish(COMMIT).await
            }

            /// Rolls back everything this transaction did.
            pub async fn rollback(mut self) -> Result<(), DbError> {
                self.core.finish(ROLLBACK).await
            }
        }
    };
}
finish_methods!(TenantTx);
finish_methods!(SystemTx);

/// The statement runner of a transaction: every statement on it, atomic work inside it.
macro_rules! tx_runs {
    ($tx:ident) => {
        impl Run for $tx {
            type Tx = $tx;

            async fn run_atomic<T, F>(
                &mut self,
                _opts: &TxOptions,
                mut work: F,
            ) -> Result<T, DbError>
            where
                T: Send,
                F: for<'t> FnMut(&'t mut $tx) -> TxFuture<'t, T> + Send,
            {
                work(self).await
            }

            fn run<'s>(
                &'s mut self,
                sql: &'static str,
                params: Params<'s>,
                want: Want,
            ) -> impl Future<Output = Result<Outcome, DbError>> + Send + 's {
                self.core.run(sql, params, want)
            }

            fn handle(&self) -> &Db {
                &self.core.db
            }
        }

        impl Exec for $tx {}
    };
}
tx_runs!(TenantTx);
tx_runs!(SystemTx);

impl TenantExec for TenantTx {
    fn tenant_id(&self) -> &TenantId {
        // A tenant transaction is only ever built with its tenant.
        self.core
            .tenant
            .as_ref()
            .unwrap_or_else(|| unreachable!("a TenantTx always has a tenant"))
    }
}

impl SystemExec for SystemTx {}

use std::future::Future;

/// Runs `work` in fresh transactions made by `begin` until it succeeds, fails for good, or the
/// retry budget of `opts` is spent.
async fn retrying<X, T, E, B, BF, F>(
    db: &Db,
    opts: &TxOptions,
    mut begin: B,
    mut work: F,
    commit: impl Fn(X) -> std::pin::Pin<Box<dyn Future<Output = Result<(), DbError>> + Send>>,
) -> Result<T, E>
where
    X: Send,
    T: Send,
    E: TxError,
    B: FnMut() -> BF,
    BF: Future<Output = Result<X, DbError>>,
    F: for<'t> FnMut(&'t mut X) -> TxFuture<'t, T, E>,
{
    let started = Instant::now();
    let mut attempt = 1;
    loop {
        let outcome = async {
            let mut tx = begin().await.map_err(E::from)?;
            let value = work(&mut tx).await?;
            commit(tx).await.map_err(E::from)?;
            Ok::<T, E>(value)
        }
        .await;
        let err = match outcome {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        let retryable = err.as_db_error().is_some_and(DbError::is_retryable);
        let backoff = opts.backoff(attempt);
        let retry = retryable
            && attempt < opts.max_attempts.max(1)
            && started.elapsed() + backoff < opts.deadline;
        if !retry {
            if retryable && let Some(suppressed) = EXHAUSTED_WARNING.check() {
                tracing::warn!(
                    attempts = attempt,
                    suppressed,
                    "transaction retries exhausted"
                );
            }
            return Err(err);
        }
        db.count_retry();
        tracing::debug!(
            attempt,
            backoff_us = backoff.as_micros() as u64,
            "retrying transaction"
        );
        tokio::time::sleep(backoff).await;
        attempt += 1;
    }
}

/// `begin`, `transaction` and `try_transaction` of a scope; `$tenant` gives the transaction's
/// tenant (`None` for the system role).
macro_rules! scope_transactions {
    ($scope:ident, $tx:ident, $what:literal, |$s:ident| $tenant:expr) => {
        impl $scope<'_> {
            #[doc = concat!("Opens ", $what, " (explicit form: no retries; commit it yourself).")]
            /// Nothing is sent until its first statement.
            pub async fn begin(&self, opts: &TxOptions) -> Result<$tx, DbError> {
                let $s = self;
                Ok($tx {
                    core: TxCore::begin(self.db, $tenant, opts).await?,
                })
            }

            #[doc = concat!("Runs `work` in ", $what, ": committed when it succeeds, rolled back")]
            /// when it fails, and retried as the module docs say.
            pub async fn transaction<T, F>(&self, opts: &TxOptions, work: F) -> Result<T, DbError>
            where
                T: Send,
                F: for<'t> FnMut(&'t mut $tx) -> TxFuture<'t, T> + Send,
            {
                self.try_transaction(opts, work).await
            }

            /// `transaction` with the caller's error type: the work may fail with any
            /// [`TxError`] (a deliberate rollback with an error of its own), and database errors
            /// inside it are still retried when retryable.
            pub async fn try_transaction<T, E, F>(&self, opts: &TxOptions, work: F) -> Result<T, E>
            where
                T: Send,
                E: TxError,
                F: for<'t> FnMut(&'t mut $tx) -> TxFuture<'t, T, E> + Send,
            {
                let scope = *self;
                retrying(
                    self.db,
                    opts,
                    || scope.begin(opts),
                    work,
                    |tx: $tx| Box::pin(tx.commit()),
                )
                .await
            }
        }
    };
}
scope_transactions!(
    TenantScope,
    TenantTx,
    "a new transaction of this tenant",
    |s| Some(s.tenant)
);
scope_transactions!(
    SystemScope,
    SystemTx,
    "a new system-role transaction",
    |_s| None
);
