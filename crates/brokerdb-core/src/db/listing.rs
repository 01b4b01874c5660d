//! Offset-paged lists whose cost does not grow with the number of matching rows: the statements
//! of one list shape, the capped exact total with the planner's estimate beyond it, and the
//! cache of statement texts built once per shape.
//!
//! A list with optional filters has one statement per *shape* (which filters are present, which
//! sort, first page or after a cursor) instead of one statement with `$n IS NULL OR …` for each
//! filter: such catch-alls keep the filters out of the index conditions once PostgreSQL plans the
//! statement generically. Shape texts are built from fixed fragments (never from input) and kept
//! for the life of the process by [`statement`].

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use tokio_postgres::Row;

use super::DbError;

/// The statements of one offset-paged list shape, as [`super::Op::offset_page`] runs them.
///
/// With `n` filter parameters `$1..$n`:
/// - `page`: `$n+1` limit, `$n+2` offset, `$n+3` the count cap; the page's rows in order, each
///   with a last column `total` (`bigint`): the number of matching rows, counted up to the cap
///   (`count(*)` over a `LIMIT $n+3` subquery, so the count reads at most cap rows);
/// - `count`: `$n+1` the count cap; one row, one `bigint`: the same capped count (run only when
///   a page after the first is empty, so the page statement returned no `total`);
/// - `estimate`: `EXPLAIN (FORMAT JSON)` of the filtered rows, filter parameters only: the
///   planner's estimate of the total when the capped count reached the cap.
#[derive(Debug, Clone, Copy)]
pub struct ListStatements {
    /// The page with the capped total.
    pub page: &'static str,
    /// The capped total alone.
    pub count: &'static str,
    /// `EXPLAIN (FORMAT JSON)` of the matching rows.
    pub estimate: &'static str,
}

/// The text of shape `key` of list `list`: built by `build` on first use, then the same
/// `&'static str` for the life of the process (the statement cache of each connection is keyed by
/// it). A list has a fixed, small set of shapes, so this holds a bounded number of texts.
pub fn statement(list: &'static str, key: u32, build: impl FnOnce() -> String) -> &'static str {
    static TEXTS: OnceLock<Mutex<HashMap<(&'static str, u32), &'static str>>> = OnceLock::new();
    let texts = TEXTS.get_or_init(Mutex::default);
    let mut texts = texts
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    texts
        .entry((list, key))
        .or_insert_with(|| Box::leak(build().into_boxed_str()))
}

/// The planner's row estimate from the single row of an `EXPLAIN (FORMAT JSON)`.
pub(crate) fn planner_estimate(row: &Row) -> Result<u64, DbError> {
    let plan: serde_json::Value = row.try_get(0)?;
    plan.get(0)
        .and_then(|p| p.get("Plan"))
        .and_then(|p| p.get("Plan Rows"))
        .and_then(serde_json::Value::as_f64)
        .filter(|rows| rows.is_finite() && *rows >= 0.0)
        .map(|rows| rows.round() as u64)
        .ok_or_else(|| DbError::Unexpected {
            message: "EXPLAIN gave no row estimate".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shape_is_built_once_and_then_the_same_text() {
        let mut builds = 0;
        let first = statement("test_list", 7, || {
            builds += 1;
            "SELECT 7".to_owned()
        });
        let again = statement("test_list", 7, || {
            builds += 1;
            "SELECT 8".to_owned()
        });
        assert_eq!(builds, 1);
        assert!(std::ptr::eq(first, again));
        assert_eq!(
            statement("other_list", 7, || "SELECT 9".to_owned()),
            "SELECT 9"
        );
    }
}
