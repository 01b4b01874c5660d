//! The tenant and system scopes: where a statement runs and under which role.

use std::time::{Duration, Instant};

use deadpool_postgres::Object;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::cancel::InFlight;
use super::exec::private::Want;
use super::warn::RateLimited;
use super::{Db, DbError, StatementMode, statement};
use crate::scalar::TenantId;

/// Statement parameters.
pub type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

const BEGIN: &str = "BEGIN";
const SET_TENANT: &str = "SELECT set_config('brokerdb.tenant_id', $1, true)";
const COMMIT: &str = "COMMIT";
const SLOW_CHECKOUT: Duration = Duration::from_millis(100);
static CHECKOUT_WARNING: RateLimited = RateLimited::new(Duration::from_secs(60));

/// Statements on behalf of one tenant, as the runtime role under row-level security.
#[derive(Clone, Copy)]
pub struct TenantScope<'a> {
    pub(crate) db: &'a Db,
    pub(crate) tenant: &'a TenantId,
}

/// Statements as the system role (BYPASSRLS): pre-tenant lookups, sweeps, global admin data.
#[derive(Clone, Copy)]
pub struct SystemScope<'a> {
    pub(crate) db: &'a Db,
}

/// Checks out a connection, warning (rate-limited) when the pool makes callers wait.
pub(crate) async fn checkout(db: &Db, system: bool) -> Result<Object, DbError> {
    let started = Instant::now();
    let pool_name = Db::pool_label(system);
    let client = match db.pool(system).get().await {
        Ok(client) => client,
        Err(e) => {
            let err = DbError::from(e);
            if matches!(err, DbError::Timeout { .. }) {
                metrics::counter!("brokerdb_pool_wait_timeouts_total", "pool" => pool_name)
                    .increment(1);
                if let Some(suppressed) = CHECKOUT_WARNING.check() {
                    let status = db.pool(system).status();
                    tracing::warn!(
                        pool = pool_name,
                        waited_ms = started.elapsed().as_millis() as u64,
                        size = status.size,
                        max = status.max_size,
                        waiting = status.waiting,
                        suppressed,
                        "no database connection became free in time; the call failed with timeout"
                    );
                }
            }
            return Err(err);
        }
    };
    let waited = started.elapsed();
    metrics::histogram!("brokerdb_pool_wait_seconds", "pool" => pool_name)
        .record(waited.as_secs_f64());
    if waited > SLOW_CHECKOUT
        && let Some(suppressed) = CHECKOUT_WARNING.check()
    {
        let status = db.pool(system).status();
        tracing::warn!(
            pool = pool_name,
            waited_ms = waited.as_millis() as u64,
            size = status.size,
            max = status.max_size,
            waiting = status.waiting,
            suppressed,
            "waited for a database connection; the pool may be too small"
        );
    }
    Ok(client)
}

impl<'a> TenantScope<'a> {
    pub(crate) fn new(db: &'a Db, tenant: &'a TenantId) -> Self {
        Self { db, tenant }
    }

    /// The tenant this scope is bound to.
    pub fn tenant_id(&self) -> &TenantId {
        self.tenant
    }

    /// The handle this scope came from.
    pub fn db(&self) -> &'a Db {
        self.db
    }

    /// Runs one statement in its own transaction with the tenant set (see [`run_pooled`]).
    pub(crate) async fn run_one(
        &self,
        sql: &'static str,
        params: Params<'_>,
        want: Want,
    ) -> Result<Outcome, DbError> {
        run_pooled(self.db, Some(self.tenant), sql, params, want).await
    }
}

/// Runs one statement on a pooled connection of its role: for a tenant, in its own transaction
/// with the tenant set ([`run_scoped`], one round trip); for the system role, autocommit (one
/// statement, one round trip). A connection that failed is dropped, not returned to the pool.
async fn run_pooled(
    db: &Db,
    tenant: Option<&TenantId>,
    sql: &'static str,
    params: Params<'_>,
    want: Want,
) -> Result<Outcome, DbError> {
    let system = tenant.is_none();
    // Dropped before the statement finished (the caller went away), the guard cancels it.
    let in_flight = InFlight::arm(db, checkout(db, system).await?, system);
    let client = in_flight.client()?;
    let result = match tenant {
        Some(tenant) => run_scoped(db, client, tenant, sql, params, want).await,
        None => run_cached(db, client, sql, params, want, false).await,
    };
    if let Some(client) = in_flight.finish() {
        release(client, &result);
    }
    result
}

/// One statement with the tenant set, in a transaction of its own, in one round trip.
///
/// Prepared mode, rows or a count wanted: `set_config` and the statement, both prepared (cached
/// per connection), go out as one message batch ending in a single `Sync`
/// ([`Client::query_after`](tokio_postgres::Client::query_after), patched into the vendored
/// tokio-postgres). PostgreSQL runs everything before a `Sync` as one implicit transaction, so
/// the transaction-local tenant holds for the statement and ends with it; if `set_config` fails
/// the statement does not run. Two statements and one `Sync` where `BEGIN` … `COMMIT` would
/// cost four of each.
///
/// Otherwise (unnamed mode for PgBouncer before 1.21, or a statement planned per call):
/// `BEGIN`, `set_config`, the statement and `COMMIT`, readied as the mode says and pipelined;
/// all four readied first, because pipelining keeps its order only then (an unprepared `BEGIN`
/// would be parsed first and the rest would run outside the transaction, with no tenant set).
async fn run_scoped(
    db: &Db,
    client: &Object,
    tenant: &TenantId,
    sql: &'static str,
    params: Params<'_>,
    want: Want,
) -> Result<Outcome, DbError> {
    let tenant = tenant.as_str();
    let set_params: [&(dyn ToSql + Sync); 1] = [&tenant];
    let one_sync = db.settings().statement_mode == StatementMode::Prepared;
    if one_sync && matches!(want, Want::Rows | Want::Count) {
        let set = client.prepare_cached(SET_TENANT).await?;
        let stmt = client.prepare_cached(sql).await?;
        let started = Instant::now();
        let out = if want == Want::Count {
            client
                .execute_after(&set, &set_params, &stmt, params)
                .await
                .map(Outcome::Count)
        } else {
            client
                .query_after(&set, &set_params, &stmt, params)
                .await
                .map(Outcome::Rows)
        };
        db.trace_statement(sql, started);
        return Ok(out?);
    }
    let begin = statement::ready(db, client, BEGIN, false).await?;
    let set = statement::ready(db, client, SET_TENANT, false).await?;
    let stmt = statement::ready(db, client, sql, false).await?;
    let commit = statement::ready(db, client, COMMIT, false).await?;
    let started = Instant::now();
    // join! polls in order, and each call sends its messages on its first poll.
    let (b, s, out, c) = tokio::join!(
        statement::run(client, &begin, BEGIN, &[], Want::Count),
        statement::run(client, &set, SET_TENANT, &set_params, Want::Count),
        statement::run(client, &stmt, sql, params, want),
        statement::run(client, &commit, COMMIT, &[], Want::Count),
    );
    db.trace_statement(sql, started);
    Ok(b.and(s).and(out).and_then(|out| c.map(|_| out))?)
}

impl<'a> SystemScope<'a> {
    pub(crate) fn new(db: &'a Db) -> Self {
        Self { db }
    }

    /// The handle this scope came from.
    pub fn db(&self) -> &'a Db {
        self.db
    }

    /// Runs one statement as the system role (autocommit; see [`run_pooled`]).
    pub(crate) async fn run_one(
        &self,
        sql: &'static str,
        params: Params<'_>,
        want: Want,
    ) -> Result<Outcome, DbError> {
        run_pooled(self.db, None, sql, params, want).await
    }
}

/// What a statement gave back: its rows, or how many rows it affected.
pub enum Outcome {
    Rows(Vec<Row>),
    Count(u64),
}

impl Outcome {
    pub(crate) fn into_rows(self) -> Vec<Row> {
        match self {
            Self::Rows(rows) => rows,
            Self::Count(_) => Vec::new(),
        }
    }

    pub(crate) fn into_count(self) -> u64 {
        match self {
            Self::Rows(rows) => rows.len() as u64,
            Self::Count(n) => n,
        }
    }
}

/// Readies `sql` in the handle's mode, runs it as `want` says, and traces it: one statement on
/// a pooled client (`in_tx` false: autocommit) or inside a transaction (`in_tx` true).
pub(crate) async fn run_cached(
    db: &Db,
    client: &Object,
    sql: &'static str,
    params: Params<'_>,
    want: Want,
    in_tx: bool,
) -> Result<Outcome, DbError> {
    let stmt = statement::ready(db, client, sql, in_tx).await?;
    let started = Instant::now();
    let out = statement::run(client, &stmt, sql, params, want).await;
    db.trace_statement(sql, started);
    Ok(out?)
}

/// Returns `client` to the pool unless `result` says its connection is broken; then the
/// connection is dropped so no later caller gets it.
pub(crate) fn release<T>(client: Object, result: &Result<T, DbError>) {
    if matches!(result, Err(DbError::Unavailable { .. })) {
        drop(Object::take(client));
    }
}

pub(crate) fn at_most_one(mut rows: Vec<Row>) -> Result<Option<Row>, DbError> {
    match rows.len() {
        0 | 1 => Ok(rows.pop()),
        _ => Err(DbError::Unexpected {
            message: "query returned more than one row".into(),
        }),
    }
}
