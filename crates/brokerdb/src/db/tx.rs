//! Transactions: options, retry of serialization failures and deadlocks, and reuse of a caller's
//! transaction.

use std::time::{Duration, Instant};

use deadpool_postgres::Object;
use tokio_postgres::Row;

use super::scope::{Outcome, Params, Scope, ScopeKey, at_most_one, checkout, release, run_cached};
use super::warn::RateLimited;
use super::{Db, DbError};
use crate::model::ValidationError;

/// `brokerdb.tenant_id` plus optional statement / lock timeouts, in one statement.
const SETTINGS: &str = "SELECT set_config('brokerdb.tenant_id', COALESCE($1, ''), true), \
     set_config('statement_timeout', COALESCE($2, current_setting('statement_timeout')), true), \
     set_config('lock_timeout', COALESCE($3, current_setting('lock_timeout')), true)";

/// What the work of a transaction returns: a boxed, `Send` future borrowing the transaction.
/// Write `|tx| Box::pin(async move { … })`.
pub type TxFuture<'t, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, DbError>> + Send + 't>>;

static EXHAUSTED_WARNING: RateLimited = RateLimited::new(Duration::from_secs(60));

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

/// How a transaction runs and how hard it retries.
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
}

/// An open transaction in one scope. Dropped without commit (error, panic, cancellation) it rolls
/// back.
pub struct Tx<'c> {
    inner: deadpool_postgres::Transaction<'c>,
    scope: ScopeKey,
    db: Db,
}

impl Tx<'_> {
    /// The handle this transaction came from.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The scope this transaction runs in.
    pub fn scope(&self) -> &ScopeKey {
        &self.scope
    }

    /// Runs a statement in this transaction and returns its rows.
    pub async fn query(&self, sql: &'static str, params: Params<'_>) -> Result<Vec<Row>, DbError> {
        self.run(sql, params, true).await.map(Outcome::into_rows)
    }

    /// Runs a statement in this transaction and returns the rows affected.
    pub async fn execute(&self, sql: &'static str, params: Params<'_>) -> Result<u64, DbError> {
        self.run(sql, params, false).await.map(Outcome::into_count)
    }

    async fn run(
        &self,
        sql: &'static str,
        params: Params<'_>,
        rows: bool,
    ) -> Result<Outcome, DbError> {
        run_cached(&self.db, &self.inner, sql, params, rows).await
    }

    /// At most one row; more than one is `unexpected_error`.
    pub async fn query_opt(
        &self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Option<Row>, DbError> {
        at_most_one(self.query(sql, params).await?)
    }
}

/// Runs `work` in a transaction of `scope`.
///
/// With `caller` set, `work` runs inside the caller's transaction: nothing new is opened,
/// committed or retried (the caller owns it), and a caller transaction of another scope is
/// refused. Otherwise a transaction is opened with `opts`; it commits when `work` succeeds, rolls
/// back when `work` fails, panics or is cancelled, and the whole attempt is retried after a
/// serialization failure or deadlock with jittered exponential backoff, within
/// `opts.max_attempts` and `opts.deadline`.
pub async fn run_in_transaction<T: Send>(
    scope: &impl Scope,
    caller: Option<&mut Tx<'_>>,
    opts: &TxOptions,
    mut work: impl for<'t, 'c> FnMut(&'t mut Tx<'c>) -> TxFuture<'t, T> + Send,
) -> Result<T, DbError> {
    if let Some(tx) = caller {
        ensure_caller_scope(scope, tx)?;
        return work(tx).await;
    }
    let db = scope.scope_db();
    let key = scope.scope_key();
    let started = Instant::now();
    let mut attempt = 1;
    loop {
        let err = match attempt_once(db, &key, opts, &mut work).await {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        let backoff = opts.backoff(attempt);
        let retry = err.is_retryable()
            && attempt < opts.max_attempts.max(1)
            && started.elapsed() + backoff < opts.deadline;
        if !retry {
            if err.is_retryable()
                && let Some(suppressed) = EXHAUSTED_WARNING.check()
            {
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

/// Refuses a caller's transaction that belongs to another scope (another tenant, or the
/// system role) than the one the call is made in: fail closed, never run in the wrong scope.
pub fn ensure_caller_scope(scope: &impl Scope, tx: &Tx<'_>) -> Result<(), DbError> {
    if tx.scope == scope.scope_key() {
        Ok(())
    } else {
        Err(ValidationError::new("transaction", "belongs to another scope").into())
    }
}

async fn attempt_once<T: Send>(
    db: &Db,
    key: &ScopeKey,
    opts: &TxOptions,
    work: &mut (impl for<'t, 'c> FnMut(&'t mut Tx<'c>) -> TxFuture<'t, T> + Send),
) -> Result<T, DbError> {
    let mut client = checkout(db, matches!(key, ScopeKey::System)).await?;
    let result = attempt_on(&mut client, db, key, opts, work).await;
    release(client, &result);
    result
}

async fn attempt_on<T: Send>(
    client: &mut Object,
    db: &Db,
    key: &ScopeKey,
    opts: &TxOptions,
    work: &mut (impl for<'t, 'c> FnMut(&'t mut Tx<'c>) -> TxFuture<'t, T> + Send),
) -> Result<T, DbError> {
    let settings = client.prepare_cached(SETTINGS).await?;
    let isolation = match opts.isolation {
        IsolationLevel::ReadCommitted => tokio_postgres::IsolationLevel::ReadCommitted,
        IsolationLevel::RepeatableRead => tokio_postgres::IsolationLevel::RepeatableRead,
        IsolationLevel::Serializable => tokio_postgres::IsolationLevel::Serializable,
    };
    let inner = client
        .build_transaction()
        .isolation_level(isolation)
        .read_only(opts.read_only)
        .start()
        .await?;
    let tenant = match key {
        ScopeKey::Tenant(t) => Some(t.as_str()),
        ScopeKey::System => None,
    };
    let ms = |d: Option<Duration>| d.map(|d| format!("{}ms", d.as_millis().max(1)));
    inner
        .execute(
            &settings,
            &[&tenant, &ms(opts.statement_timeout), &ms(opts.lock_timeout)],
        )
        .await?;
    let mut tx = Tx {
        inner,
        scope: key.clone(),
        db: db.clone(),
    };
    let value = work(&mut tx).await?;
    tx.inner.commit().await?;
    Ok(value)
}

impl<'a> super::TenantScope<'a> {
    /// Runs `work` in a new transaction of this tenant (see [`run_in_transaction`]).
    pub async fn transaction<T: Send>(
        &self,
        opts: &TxOptions,
        work: impl for<'t, 'c> FnMut(&'t mut Tx<'c>) -> TxFuture<'t, T> + Send,
    ) -> Result<T, DbError> {
        run_in_transaction(self, None, opts, work).await
    }
}

impl<'a> super::SystemScope<'a> {
    /// Runs `work` in a new system-role transaction (see [`run_in_transaction`]).
    pub async fn transaction<T: Send>(
        &self,
        opts: &TxOptions,
        work: impl for<'t, 'c> FnMut(&'t mut Tx<'c>) -> TxFuture<'t, T> + Send,
    ) -> Result<T, DbError> {
        run_in_transaction(self, None, opts, work).await
    }
}
