//! Keyset listings of admin identities and access requests (newest first).
//!
//! Cursors are signed (HMAC, bound to the list) instead of the original's plain
//! `base64url("<created_at>|<id>")`, which anyone could forge.
//!
//! Each combination of present filters (status, tenant, role, search) and cursor is its own
//! statement (a *shape*, see [`crate::db::listing`]), built once from the listing's fixed
//! fragments (`ListingSql`): a present filter is one plain bound condition, the keyset
//! condition `(created_at, id) < ($n, $m)` is only in the shapes after a cursor, so the
//! `(created_at DESC, id DESC)` index is read from the cursor on under generic plans too.

use serde::Serialize;
use tokio_postgres::types::ToSql;

use super::REPO;
use super::access_requests::{self, AccessRequestStatus, AdminAccessRequest};
use super::identities::{self, AdminUser, IdentityStatus};
use crate::db::listing::statement;
use crate::db::paging::contains_pattern;
use crate::db::{CursorKey, DbError, SystemExec};
use crate::model::{Timestamp, UserRole, ValidationError, trim};

/// The fixed SQL fragments of one admin listing, from which each shape's text is built.
pub(super) struct ListingSql {
    /// Statement cache name (also the cursor's list binding).
    pub name: &'static str,
    /// `SELECT … FROM <table> <alias>`: the rows, before any condition.
    pub inner: &'static str,
    /// The conditions of status, tenant, role and search, in parameter order; `{n}` is the
    /// parameter number.
    pub conditions: [&'static str; 4],
    /// The keyset condition; `{at}` and `{id}` are the cursor's parameter numbers.
    pub cursor: &'static str,
    /// `ORDER BY` of the list (its index order).
    pub order: &'static str,
    /// The outer query over the page: the row's columns (with any per-row subqueries, which so
    /// run for the page's rows only), with `{inner}` for the limited inner query, aliased as in
    /// `inner`.
    pub outer: &'static str,
}

/// The inner query's row limit: the most rows a page fetches (a limit of 100, plus one to see
/// whether more follow). A constant, so that a generic plan is made for a page of rows: with a
/// `LIMIT $n` PostgreSQL plans a generic plan for 10 % of the matching rows, for which reading the
/// whole table and sorting it looks cheaper than the index. The caller's `limit + 1` is the outer
/// query's `LIMIT`.
const MAX_FETCH: i64 = MAX_LIMIT + 1;

/// The largest page a listing returns.
const MAX_LIMIT: i64 = 100;

/// Shape bit of the cursor (bits 0–3 are the four conditions).
const AFTER: u32 = 1 << 4;

impl ListingSql {
    /// The statement of shape `present`.
    fn sql(&self, present: u32) -> &'static str {
        statement(self.name, present, || self.build(present))
    }

    fn build(&self, present: u32) -> String {
        let mut conditions = Vec::new();
        let mut n = 1;
        for (i, condition) in self.conditions.iter().enumerate() {
            if present & (1 << i) != 0 {
                conditions.push(condition.replace("{n}", &n.to_string()));
                n += 1;
            }
        }
        if present & AFTER != 0 {
            conditions.push(
                self.cursor
                    .replace("{at}", &n.to_string())
                    .replace("{id}", &(n + 1).to_string()),
            );
            n += 2;
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        let inner = format!(
            "{}{filter} ORDER BY {} LIMIT {MAX_FETCH}",
            self.inner, self.order
        );
        format!(
            "{} ORDER BY {} LIMIT ${n}",
            self.outer.replace("{inner}", &inner),
            self.order
        )
    }
}

/// The shape bits of `q`.
fn present<S>(q: &AdminListQuery<S>) -> u32 {
    [
        q.status.is_some(),
        q.tenant_id.is_some(),
        q.role.is_some(),
        q.search.is_some(),
        q.cursor.is_some(),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, on)| u32::from(on) << i)
    .sum()
}

/// The statement [`list_identities`] sends for the shape of `q` (which fields are present; for
/// plan guards and benchmarks). Parameters: each present filter in the order status, tenant,
/// role, search (the escaped `%…%` pattern); with a cursor its `created_at` and id; last the
/// row limit (`limit + 1`).
#[doc(hidden)]
pub fn identities_sql(q: &AdminListQuery<IdentityStatus>) -> &'static str {
    identities::LISTING.sql(present(q))
}

/// The statement [`list_access_requests`] sends for the shape of `q`; parameters as
/// [`identities_sql`].
#[doc(hidden)]
pub fn access_requests_sql(q: &AdminListQuery<AccessRequestStatus>) -> &'static str {
    access_requests::LISTING.sql(present(q))
}

/// Filters of both admin listings; all optional, combined with AND.
#[derive(Debug, Clone)]
pub struct AdminListQuery<S> {
    /// Status equal to.
    pub status: Option<S>,
    /// Scoped to (identities) / requesting (requests) this tenant.
    pub tenant_id: Option<String>,
    /// Holding (identities) / requesting (requests) this role.
    pub role: Option<UserRole>,
    /// Case-insensitive substring of email, name or subject (and request id for requests);
    /// must not be blank when given.
    pub search: Option<String>,
    /// 1..=100, default 50.
    pub limit: Option<i64>,
    /// From the previous page.
    pub cursor: Option<String>,
}

impl<S> Default for AdminListQuery<S> {
    fn default() -> Self {
        Self {
            status: None,
            tenant_id: None,
            role: None,
            search: None,
            limit: None,
            cursor: None,
        }
    }
}

/// One page and the cursor of the next (absent on the last page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdminPage<T> {
    /// Items, newest first.
    pub items: Vec<T>,
    /// Pass back for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

struct Checked {
    limit: i64,
    search: Option<String>,
    after: (Option<Timestamp>, Option<String>),
}

fn check<S>(key: &CursorKey, q: &AdminListQuery<S>, list: &str) -> Result<Checked, DbError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ValidationError::new("limit", "must be an integer from 1 to 100").into());
    }
    let search = match q.search.as_deref().map(trim) {
        Some("") => return Err(ValidationError::new("search", "cannot be empty").into()),
        other => other.map(contains_pattern),
    };
    let after = match q.cursor.as_deref() {
        None => (None, None),
        Some(c) => match key.decode("", list, c)?.as_slice() {
            [at, id] => (
                Some(Timestamp::parse(at).map_err(|e| e.with_field("cursor"))?),
                Some(id.clone()),
            ),
            _ => {
                return Err(
                    ValidationError::new("cursor", "is not a valid cursor for this list").into(),
                );
            }
        },
    };
    Ok(Checked {
        limit,
        search,
        after,
    })
}

fn page<T>(
    cursor_key: &CursorKey,
    list: &str,
    mut items: Vec<T>,
    limit: i64,
    key: impl Fn(&T) -> (Timestamp, String),
) -> AdminPage<T> {
    let more = items.len() as i64 > limit;
    items.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = match items.last() {
        Some(last) if more => {
            let (at, id) = key(last);
            Some(cursor_key.encode("", list, &[at.to_string(), id]))
        }
        _ => None,
    };
    AdminPage { items, next_cursor }
}

/// Admin identities, newest first (`created_at` desc, `identity_id` desc).
pub async fn list_identities(
    exec: &mut impl SystemExec,
    q: &AdminListQuery<IdentityStatus>,
) -> Result<AdminPage<AdminUser>, DbError> {
    let status = q.status.map(|s| s.as_str());
    let spec = Listing {
        op: "list_identities",
        sql: &identities::LISTING,
        map: identities::from_row,
    };
    list(exec, q, status, spec, |u| {
        (u.created_at, u.identity_id.to_string())
    })
    .await
}

/// Access requests, newest first (`created_at` desc, `request_id` desc).
pub async fn list_access_requests(
    exec: &mut impl SystemExec,
    q: &AdminListQuery<AccessRequestStatus>,
) -> Result<AdminPage<AdminAccessRequest>, DbError> {
    let status = q.status.map(|s| s.as_str());
    let spec = Listing {
        op: "list_access_requests",
        sql: &access_requests::LISTING,
        map: access_requests::from_row,
    };
    list(exec, q, status, spec, |r| {
        (r.created_at, r.request_id.to_string())
    })
    .await
}

/// One listing: its metric op name, SQL fragments and row mapper.
struct Listing<T> {
    op: &'static str,
    sql: &'static ListingSql,
    map: fn(&tokio_postgres::Row) -> Result<T, DbError>,
}

async fn list<S, T>(
    exec: &mut impl SystemExec,
    q: &AdminListQuery<S>,
    status: Option<&'static str>,
    spec: Listing<T>,
    key: impl Fn(&T) -> (Timestamp, String),
) -> Result<AdminPage<T>, DbError> {
    let cursor_key = exec.db().cursor_key().clone();
    let c = check(&cursor_key, q, spec.sql.name)?;
    let role = q.role.map(UserRole::as_str);
    let fetch = c.limit + 1;
    let optional: [Option<&(dyn ToSql + Sync)>; 6] = [
        status.as_ref().map(|v| v as _),
        q.tenant_id.as_ref().map(|v| v as _),
        role.as_ref().map(|v| v as _),
        c.search.as_ref().map(|v| v as _),
        c.after.0.as_ref().map(|v| v as _),
        c.after.1.as_ref().map(|v| v as _),
    ];
    let mut params: Vec<&(dyn ToSql + Sync)> = optional.into_iter().flatten().collect();
    params.push(&fetch);
    // A search is planned for its pattern on every call (a rare and a common pattern want
    // opposite plans: the trigram indexes, or the list's order).
    let items = exec
        .op(REPO, spec.op)
        .planned_per_call(q.search.is_some())
        .query_all(spec.sql.sql(present(q)), &params, spec.map)
        .await?;
    Ok(page(&cursor_key, spec.sql.name, items, c.limit, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_present_filter_is_one_bound_condition_and_the_cursor_only_after_one() {
        assert_eq!(
            access_requests::LISTING.build(0),
            concat!(
                "SELECT ",
                "request_id, issuer, subject, email, name, requested_roles::text[], requested_tenant_ids, status::text, request_reason, decision_reason, decided_by, decided_at, created_at, updated_at",
                " FROM (SELECT r.* FROM admin_access_requests r ORDER BY r.created_at DESC, r.request_id DESC LIMIT 101) r \
                 ORDER BY r.created_at DESC, r.request_id DESC LIMIT $1"
            )
        );
        let tenant_after = access_requests::LISTING.build(0b10010);
        assert!(
            tenant_after.ends_with(
                " FROM admin_access_requests r WHERE r.requested_tenant_ids @> ARRAY[$1::text] \
                 AND (r.created_at, r.request_id) < ($2::timestamptz, $3::text) \
                 ORDER BY r.created_at DESC, r.request_id DESC LIMIT 101) r \
                 ORDER BY r.created_at DESC, r.request_id DESC LIMIT $4"
            ),
            "{tenant_after}"
        );
        let all = identities::LISTING.build(0b11111);
        assert!(all.contains("i.status = $1::"), "{all}");
        assert!(all.contains("s.tenant_id = $2)"), "{all}");
        assert!(all.contains("b.role = $3::"), "{all}");
        assert!(all.contains("i.subject ILIKE $4)"), "{all}");
        assert!(
            all.contains("< ($5::timestamptz, $6::text) ORDER BY"),
            "{all}"
        );
        assert!(all.contains("LIMIT 101) i ORDER BY"), "{all}");
        assert!(all.ends_with("LIMIT $7"), "{all}");
        for bits in 0..32 {
            for sql in [
                identities::LISTING.build(bits),
                access_requests::LISTING.build(bits),
            ] {
                assert!(!sql.contains("IS NULL") && !sql.contains('{'), "{sql}");
                assert_eq!(sql.contains("< ($"), bits & AFTER != 0, "{sql}");
            }
        }
    }
}
