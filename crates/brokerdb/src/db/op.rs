//! [`Op`]: one observed repository operation on an executor, with its row mapping.
//!
//! `exec.op(REPO, "create").query_one(SQL, &params, from_row).await` runs the statement, maps
//! the row, and records the operation (`brokerdb_repo_op_duration_seconds{repo,op}`, the
//! slow-operation counter, `brokerdb_repo_errors_total{repo,op,code}` and a `repo_op` span) in
//! one call.

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

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
}

impl<'e, E: Run> Op<'e, E> {
    pub(crate) fn new(exec: &'e mut E, repo: &'static str, name: &'static str) -> Self {
        Self { exec, repo, name }
    }

    async fn rows(self, sql: &'static str, params: Params<'_>) -> Result<(Vec<Row>, Self), DbError>
    where
        Self: Sized,
    {
        let rows = self
            .exec
            .run(sql, params, Want::Rows)
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

    /// An offset page with its total: `page_sql` takes `filters` as `$1…$n`, then the limit and
    /// the offset, and yields a `total` column on every row (`count(*) OVER ()`). Past the last
    /// page no row carries the total, so `count_sql` (the same filters) counts it.
    pub async fn offset_page<T>(
        self,
        page_sql: &'static str,
        count_sql: &'static str,
        filters: Params<'_>,
        page: PageRequest,
        map: impl Fn(&Row) -> Result<T, DbError>,
    ) -> Result<Page<T>, DbError> {
        let (repo, name, db) = (self.repo, self.name, self.exec.handle().clone());
        let exec = self.exec;
        db.observe(repo, name, async move {
            let (limit, offset) = (page.limit(), page.offset());
            let mut params: Vec<&(dyn ToSql + Sync)> = filters.to_vec();
            params.push(&limit);
            params.push(&offset);
            let rows = exec
                .run(page_sql, &params, Want::Rows)
                .await
                .map(Outcome::into_rows)?;
            let total: i64 = match rows.first() {
                Some(row) => row.try_get("total")?,
                None if page.page() > 1 => {
                    let counted = exec
                        .run(count_sql, filters, Want::Rows)
                        .await
                        .map(Outcome::into_rows)?;
                    match counted.first() {
                        Some(row) => row.try_get(0)?,
                        None => 0,
                    }
                }
                None => 0,
            };
            let items = rows.iter().map(map).collect::<Result<_, _>>()?;
            Ok(Page::new(items, page, u64::try_from(total).unwrap_or(0)))
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
