//! Keyset listings of admin identities and access requests (newest first).
//!
//! Cursors are signed (HMAC, bound to the list) instead of the original's plain
//! `base64url("<created_at>|<id>")`, which anyone could forge.

use serde::Serialize;

use super::REPO;
use super::access_requests::{self, AccessRequestStatus, AdminAccessRequest};
use super::identities::{self, AdminUser, IdentityStatus};
use crate::db::paging::contains_pattern;
use crate::db::{CursorKey, DbError, SystemExec};
use crate::model::{Timestamp, UserRole, ValidationError, trim};

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
    if !(1..=100).contains(&limit) {
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
        name: "admin_identities",
        op: "list_identities",
        sql: identities::LIST,
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
        name: "admin_access_requests",
        op: "list_access_requests",
        sql: access_requests::LIST,
        map: access_requests::from_row,
    };
    list(exec, q, status, spec, |r| {
        (r.created_at, r.request_id.to_string())
    })
    .await
}

/// One listing: its cursor binding, metric op name, SQL and row mapper.
struct Listing<T> {
    name: &'static str,
    op: &'static str,
    sql: &'static str,
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
    let c = check(&cursor_key, q, spec.name)?;
    let role = q.role.map(UserRole::as_str);
    let fetch = c.limit + 1;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] = [
        &status,
        &q.tenant_id,
        &role,
        &c.search,
        &c.after.0,
        &c.after.1,
        &fetch,
    ];
    let items = exec
        .op(REPO, spec.op)
        .query_all(spec.sql, &params, spec.map)
        .await?;
    Ok(page(&cursor_key, spec.name, items, c.limit, key))
}
