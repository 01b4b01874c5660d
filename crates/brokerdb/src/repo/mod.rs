//! Repositories: one module per aggregate, each a few functions that take the scope they run in.
//!
//! The scope in each signature says whose rows a call can touch: `&TenantScope` (the runtime
//! role under row-level security: another tenant's row is simply "not found") or `&SystemScope`
//! (BYPASSRLS, only for lookups made before the tenant is known; each such function says why).
//! Tx-capable functions take `Option<&mut Tx>`: given a transaction, every statement runs on it
//! and nothing else is opened.

pub mod admin;
pub mod approvals;
pub mod audit_events;
pub mod enrollment_tokens;
pub mod integrations;
pub mod policy_rules;
pub mod secrets;
pub mod sessions;
pub mod templates;
pub mod tenants;
pub mod users;
pub mod workloads;

use tokio_postgres::Row;

use crate::db::{DbError, Params, TenantScope, Tx};

/// Runs one statement on the caller's transaction when one is given (which must belong to the
/// same tenant), otherwise in its own tenant-scoped transaction (one round trip).
pub(crate) async fn query_in(
    scope: &TenantScope<'_>,
    tx: Option<&mut Tx<'_>>,
    sql: &'static str,
    params: Params<'_>,
) -> Result<Vec<Row>, DbError> {
    match tx {
        Some(tx) => {
            crate::db::ensure_caller_scope(scope, tx)?;
            tx.query(sql, params).await
        }
        None => scope.query(sql, params).await,
    }
}

/// Like [`query_in`], returning the number of rows affected.
pub(crate) async fn execute_in(
    scope: &TenantScope<'_>,
    tx: Option<&mut Tx<'_>>,
    sql: &'static str,
    params: Params<'_>,
) -> Result<u64, DbError> {
    match tx {
        Some(tx) => {
            crate::db::ensure_caller_scope(scope, tx)?;
            tx.execute(sql, params).await
        }
        None => scope.execute(sql, params).await,
    }
}

/// Builds an offset page from rows that carry `count(*) OVER () AS total`. Past the last page
/// no row carries the total, so it is counted with `count_sql` (the same filters, `params`).
pub(crate) async fn offset_page<T>(
    scope: &TenantScope<'_>,
    rows: &[Row],
    page: crate::db::paging::PageRequest,
    count_sql: &'static str,
    params: Params<'_>,
    map: impl Fn(&Row) -> Result<T, DbError>,
) -> Result<crate::db::paging::Page<T>, DbError> {
    let total: i64 = match rows.first() {
        Some(row) => row.try_get("total")?,
        None if page.page() > 1 => match scope.query(count_sql, params).await?.first() {
            Some(row) => row.try_get(0)?,
            None => 0,
        },
        None => 0,
    };
    let items = rows.iter().map(map).collect::<Result<_, _>>()?;
    Ok(crate::db::paging::Page::new(
        items,
        page,
        u64::try_from(total).unwrap_or(0),
    ))
}

/// An unfiltered offset page of a tenant table: `page_sql` takes `$1` limit, `$2` offset and
/// yields `total` per row.
pub(crate) async fn plain_page<T>(
    scope: &TenantScope<'_>,
    repo: &'static str,
    page_sql: &'static str,
    count_sql: &'static str,
    page: crate::db::paging::PageRequest,
    map: impl Fn(&Row) -> Result<T, DbError>,
) -> Result<crate::db::paging::Page<T>, DbError> {
    let (limit, offset) = (page.limit(), page.offset());
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&limit, &offset];
    let rows = scope
        .db()
        .observe(repo, "list_by_tenant", scope.query(page_sql, &params))
        .await?;
    offset_page(scope, &rows, page, count_sql, &[], map).await
}

/// Like [`query_in`] for the system scope: the caller's transaction (which must be a system
/// one) when given, otherwise one autocommit statement.
pub(crate) async fn system_query_in(
    scope: &crate::db::SystemScope<'_>,
    tx: Option<&mut Tx<'_>>,
    sql: &'static str,
    params: Params<'_>,
) -> Result<Vec<Row>, DbError> {
    match tx {
        Some(tx) => {
            crate::db::ensure_caller_scope(scope, tx)?;
            tx.query(sql, params).await
        }
        None => scope.query(sql, params).await,
    }
}
