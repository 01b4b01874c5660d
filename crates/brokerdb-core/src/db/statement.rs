//! How one statement reaches the server in each [`StatementMode`]: a named statement prepared
//! once per connection (`prepare_cached`), or an unnamed one (`query_typed`) whose parameter
//! types were learned once per process.
//!
//! Unnamed mode exists for PgBouncer in transaction mode (before 1.21), which hands each
//! transaction whichever server connection is free: a named statement prepared in one
//! transaction is unknown in the next, and even a lone `prepare` (parse, then a separate bind)
//! can straddle two server connections. So in that mode:
//! - every statement is sent unnamed, parse + bind + execute + sync in one message batch;
//! - the parameter types a batch must carry are learned by preparing the statement once,
//!   inside a transaction (`BEGIN`, prepare, close, `ROLLBACK`, or within the caller's open
//!   transaction), so all of it happens on one server connection and nothing is left behind;
//! - each new connection resolves the database's enum, domain and composite types (and their
//!   arrays) once, inside a transaction ([`warm_types`]): tokio-postgres looks up a type it has
//!   not seen with a prepared statement of its own, which must never happen outside a
//!   transaction through the pooler. Its lookup statements are deallocated before that
//!   transaction ends, so nothing named outlives it: a type created after a connection was made
//!   (a migration adding an enum while the service runs) fails on that connection until the
//!   service restarts.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tokio_postgres::types::Type;
use tokio_postgres::{Client, Statement};

use super::exec::private::Want;
use super::scope::Outcome;
use super::{Db, Params, StatementMode};

/// Parameter types per statement text (statement texts are `&'static str` constants).
#[derive(Default)]
pub(crate) struct ParamTypes(RwLock<HashMap<&'static str, Arc<[Type]>>>);

/// A statement ready to run on one connection: prepared (named, cached per connection) or
/// unnamed with its parameter types.
pub(crate) enum Ready {
    Prepared(Statement),
    Unnamed(Arc<[Type]>),
}

/// Readies `sql` on `client` as the handle's mode says. `in_tx`: the connection is inside an
/// open transaction (learning needs no transaction of its own then).
pub(crate) async fn ready(
    db: &Db,
    client: &deadpool_postgres::Object,
    sql: &'static str,
    in_tx: bool,
) -> Result<Ready, tokio_postgres::Error> {
    match db.settings().statement_mode {
        StatementMode::Prepared => client.prepare_cached(sql).await.map(Ready::Prepared),
        StatementMode::Unnamed => param_types(db, client, sql, in_tx)
            .await
            .map(Ready::Unnamed),
    }
}

/// The parameter types of `sql`, learned on `client` the first time (module docs).
async fn param_types(
    db: &Db,
    client: &Client,
    sql: &'static str,
    in_tx: bool,
) -> Result<Arc<[Type]>, tokio_postgres::Error> {
    let cache = &db.param_types().0;
    if let Some(types) = cache.read().ok().and_then(|m| m.get(sql).cloned()) {
        return Ok(types);
    }
    let types = if in_tx {
        learn(client, sql).await?
    } else {
        client.batch_execute("BEGIN").await?;
        let learned = learn(client, sql).await;
        let ended = client.batch_execute("ROLLBACK").await;
        let types = learned?;
        ended?;
        types
    };
    if let Ok(mut map) = cache.write() {
        map.insert(sql, types.clone());
    }
    Ok(types)
}

/// Prepares `sql` (named), keeps its parameter types and closes it again: the close is queued
/// when the statement drops, before anything the caller sends next.
async fn learn(client: &Client, sql: &str) -> Result<Arc<[Type]>, tokio_postgres::Error> {
    let stmt = client.prepare(sql).await?;
    let types: Arc<[Type]> = stmt.params().into();
    drop(stmt);
    Ok(types)
}

/// Runs a readied statement as `want` says: for its rows or its row count, or (prepared mode)
/// for its rows planned for these values (`sql` sent unnamed, typed like the statement, still
/// one round trip). An unnamed statement is always planned for its values.
pub(crate) async fn run(
    client: &Client,
    ready: &Ready,
    sql: &str,
    params: Params<'_>,
    want: Want,
) -> Result<Outcome, tokio_postgres::Error> {
    match (ready, want) {
        (Ready::Prepared(stmt), Want::Rows) => client.query(stmt, params).await.map(Outcome::Rows),
        (Ready::Prepared(stmt), Want::Count) => {
            client.execute(stmt, params).await.map(Outcome::Count)
        }
        (Ready::Prepared(stmt), Want::RowsPlannedPerCall) => {
            typed(client, sql, params, stmt.params(), Want::Rows).await
        }
        (Ready::Unnamed(types), want) => typed(client, sql, params, types, want).await,
    }
}

/// `sql` sent unnamed with `params` typed as `types`: parse, bind, execute and sync in one batch.
async fn typed(
    client: &Client,
    sql: &str,
    params: Params<'_>,
    types: &[Type],
    want: Want,
) -> Result<Outcome, tokio_postgres::Error> {
    use futures_util::TryStreamExt;

    let typed = params.iter().copied().zip(types.iter().cloned());
    let stream = client.query_typed_raw(sql, typed).await?;
    futures_util::pin_mut!(stream);
    let mut rows = Vec::new();
    while let Some(row) = stream.try_next().await? {
        rows.push(row);
    }
    match want {
        Want::Count => Ok(Outcome::Count(
            stream.rows_affected().unwrap_or(rows.len() as u64),
        )),
        Want::Rows | Want::RowsPlannedPerCall => Ok(Outcome::Rows(rows)),
    }
}

/// A parameterless statement (`BEGIN`, `COMMIT`, …) in the handle's mode.
pub(crate) async fn run_bare(
    db: &Db,
    client: &deadpool_postgres::Object,
    sql: &'static str,
) -> Result<(), tokio_postgres::Error> {
    match db.settings().statement_mode {
        StatementMode::Prepared => {
            let stmt = client.prepare_cached(sql).await?;
            client.execute(&stmt, &[]).await.map(|_| ())
        }
        StatementMode::Unnamed => typed(client, sql, &[], &[], Want::Count).await.map(|_| ()),
    }
}

/// The statement that names every user-defined enum, domain and composite type (and its array
/// type) outside the system schemas as a `NULL` column, so preparing it makes tokio-postgres
/// resolve and cache them all.
const TYPE_LIST: &str = "SELECT COALESCE('SELECT ' || string_agg(
        format('NULL::%s, NULL::%s[]', t.oid::regtype, t.oid::regtype), ', ' ORDER BY t.oid), '')
     FROM pg_catalog.pg_type t
     JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
     WHERE t.typtype IN ('e', 'd', 'c')
       AND (t.typtype <> 'c' OR EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                                        WHERE c.oid = t.typrelid AND c.relkind = 'c'))
       AND n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname NOT LIKE 'pg\\_%'";

/// Resolves the database's own types on a new connection, inside one transaction (module docs):
/// what [`pool::build_for`](super::pool::build_for) runs after connecting in unnamed mode.
pub(crate) async fn warm_types(client: &Client) -> Result<(), tokio_postgres::Error> {
    client.batch_execute("BEGIN").await?;
    let warmed = async {
        let rows = client.query_typed(TYPE_LIST, &[]).await?;
        let select: String = rows.first().map(|r| r.get(0)).unwrap_or_default();
        if !select.is_empty() {
            drop(client.prepare(&select).await?);
        }
        // tokio-postgres keeps the statements it looked the types up with; on a pooler's
        // server connection they would outlive this client, and a name another process's
        // client picks later (`s0`, `s1`, … in every process) would collide with them.
        client.batch_execute("DEALLOCATE ALL").await
    }
    .await;
    let ended = client.batch_execute("ROLLBACK").await;
    warmed?;
    ended
}
