//! [`Op`]: one observed repository operation on an executor, with its row mapping.
//!
//! `exec.op(REPO, "create").query_one(SQL, &params, from_row).await` runs the statement, maps
//! the row, and records the operation (`brokerdb_repo_op_duration_seconds{repo,op}`, the
//! slow-operation counter, `brokerdb_repo_errors_total{repo,op,code}` and a `repo_op` span) in
//! one call.

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::listing::{ListStatements, planner_estimate};
use super::paging::{Page, PageRequest};

use super::exec::private::{Run, Want};
use super::scope::Outcome;
use super::transaction::TxFuture;
use super::{DbError, Params, TxOptions};

/// A repository operation about to run on executor `E`.
pub struct Op<'e, E: Run> {
    exec: &'e mut E,
    repo: &'static str,
    name: &'static str,
    rows: Want,
}

impl<'e, E: Run> Op<'e, E> {
    pub(crate) fn new(exec: &'e mut E, repo: &'static str, name: &'static str) -> Self {
        Self {
            exec,
            repo,
            name,
            rows: Want::Rows,
        }
    }

    /// When `yes`, the statements that return rows are planned for their parameter values on
    /// every call instead of once per connection: for statements whose best plan depends on a
    /// value (a search pattern, for which a rare and a common value want opposite plans). Still
    /// one round trip; costs the planning time on every call.
    pub fn planned_per_call(mut self, yes: bool) -> Self {
        if yes {
            self.rows = Want::RowsPlannedPerCall;
        }
        self
    }

    async fn rows(self, sql: &'static str, params: Params<'_>) -> Result<(Vec<Row>, Self), DbError>
    where
        Self: Sized,
    {
        let want = self.rows;
        let rows = self
            .exec
            .run(sql, params, want)
            .await
            .map(Outcome::into_rows)?;
        Ok((rows, self))
    }

    /// Exactly one row, mapped. No row is `unexpected_error` (a statement that must return a
    /// row, such as `INSERT … RETURNING`, did not): use [`Op::query_found`] for lookups.
    pub async fn query_one<T>(
        self,
        sql: &'static str,
        params: Params<'_>,
        map: impl Fn(&Row) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let (repo, name, db) = (self.repo, self.name, self.exec.handle().clone());
        db.observe(repo, name, async move {
            let (rows, _) = self.rows(sql, params).await?;
            match rows.as_slice() {
                [row] => map(row),
                [] => Err(DbError::returned_nothing()),
                _ => Err(DbError::Unexpected {
                    message: "a statement that returns one row returned several".into(),
                }),
            }
        })
        .await
    }

    /// The one row, mapped, or `not_found` for `entity` when there is none.
    pub async fn query_found<T>(
        self,
        entity: &'static str,
        sql: &'static str,
        params: Params<'_>,
        map: impl Fn(&Row) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        self.query_opt(sql, params, map)
            .await?
            .ok_or(DbError::NotFound { entity })
    }

    /// At most one row, mapped (more than one is `unexpected_error`).
    pub async fn query_opt<T>(
        self,
        sql: &'static str,
        params: Params<'_>,
        map: impl Fn(&Row) -> Result<T, DbError>,
    ) -> Result<Option<T>, DbError> {
        let (repo, name, db) = (self.repo, self.name, self.exec.handle().clone());
        db.observe(repo, name, async move {
            let (rows, _) = self.rows(sql, params).await?;
            match rows.as_slice() {
                [] => Ok(None),
                [row] => map(row).map(Some),
                _ => Err(DbError::Unexpected {
                    message: "query returned more than one row".into(),
                }),
            }
        })
        .await
    }

    /// Every row, mapped.
    pub async fn query_all<T>(
        self,
        sql: &'static str,
        params: Params<'_>,
        map: impl Fn(&Row) -> Result<T, DbError>,
    ) -> Result<Vec<T>, DbError> {
        let (repo, name, db) = (self.repo, self.name, self.exec.handle().clone());
        db.observe(repo, name, async move {
            let (rows, _) = self.rows(sql, params).await?;
            rows.iter().map(map).collect()
        })
        .await
    }

    /// The rows affected.
    pub async fn execute(self, sql: &'static str, params: Params<'_>) -> Result<u64, DbError> {
        let (repo, name, db) = (self.repo, self.name, self.exec.handle().clone());
        db.observe(repo, name, async move {
            self.exec
                .run(sql, params, Want::Count)
                .await
                .map(Outcome::into_count)
        })
        .await
    }

    /// One offset page of `list` with its total, in one statement (see [`ListStatements`] for the
    /// statements' contract). The total is exact up to the handle's
    /// [`super::DbSettings::exact_total_limit`]; beyond it counting would cost as much as the
    /// rows matched, so the page says `total_is_estimate` and the total is the planner's estimate
    /// (at least the limit + 1, and at least the rows up to this page). An empty page after the
    /// first counts with `list.count`.
    pub async fn offset_page<T>(
        self,
        list: &ListStatements,
        filters: Params<'_>,
        page: PageRequest,
        map: impl Fn(&Row) -> Result<T, DbError>,
    ) -> Result<Page<T>, DbError> {
        let (repo, name, db) = (self.repo, self.name, self.exec.handle().clone());
        let exact_limit = db.settings().exact_total_limit;
        let (exec, want) = (self.exec, self.rows);
        db.observe(repo, name, async move {
            let (limit, offset) = (page.limit(), page.offset());
            let cap = i64::from(exact_limit) + 1;
            let mut params: Vec<&(dyn ToSql + Sync)> = filters.to_vec();
            params.extend([&limit as &(dyn ToSql + Sync), &offset, &cap]);
            let rows = exec
                .run(list.page, &params, want)
                .await
                .map(Outcome::into_rows)?;
            let counted: i64 = match rows.first() {
                Some(row) => row.try_get("total")?,
                None if page.page() > 1 => {
                    let mut params: Vec<&(dyn ToSql + Sync)> = filters.to_vec();
                    params.push(&cap);
                    let counted = exec
                        .run(list.count, &params, want)
                        .await
                        .map(Outcome::into_rows)?;
                    match counted.first() {
                        Some(row) => row.try_get(0)?,
                        None => 0,
                    }
                }
                None => 0,
            };
            let items: Vec<T> = rows.iter().map(map).collect::<Result<_, _>>()?;
            let counted = u64::try_from(counted).unwrap_or(0);
            if counted <= u64::from(exact_limit) {
                return Ok(Page::new(items, page, counted));
            }
            let explained = exec
                .run(list.estimate, filters, Want::RowsPlannedPerCall)
                .await
                .map(Outcome::into_rows)?;
            let estimate = match explained.first() {
                Some(row) => planner_estimate(row)?,
                None => 0,
            };
            let seen = u64::try_from(offset).unwrap_or(0) + items.len() as u64;
            let total = estimate.max(counted).max(seen);
            Ok(Page::estimated(items, page, total))
        })
        .await
    }

    /// Runs `work` atomically (see [`super::Exec::atomic`]) as one observed operation: for
    /// operations of several statements.
    pub async fn atomic<T, F>(self, opts: &TxOptions, work: F) -> Result<T, DbError>
    where
        T: Send,
        F: for<'t> FnMut(&'t mut E::Tx) -> TxFuture<'t, T> + Send,
    {
        let (repo, name, db) = (self.repo, self.name, self.exec.handle().clone());
        db.observe(repo, name, self.exec.run_atomic(opts, work))
            .await
    }
}
