//! The users list: offset pages (`{items, page, pageSize, total, totalPages}`, the total exact up
//! to a limit and estimated beyond) and keyset pages, with optional filters and an allowlisted
//! sort, costing about the same at a million users as at a hundred.
//!
//! Each combination of present filters, sort and page kind is its own statement (a *shape*, see
//! [`crate::db::listing`]), built once from the fixed fragments below, so each filter is an index
//! condition under generic plans too:
//! - each sort has an index ending with the `user_id` tie-break (migration 0012), so page 1 and
//!   every keyset page read their rows in order and stop at the limit;
//! - `q` (case-insensitive substring of email or display name) is served by trigram indexes; a
//!   shape with `q` is planned for its pattern on every call, since a rare and a common pattern
//!   want opposite plans;
//! - `role` reads `human_user_roles (tenant_id, role, user_id)`. The role rows carry copies of
//!   their user's `created_at` and `enabled` (migration 0020, kept by triggers), so a role with a
//!   `created_at` range or `enabled` is counted from the role's own index range (the range from
//!   `(tenant_id, role, user_created_at, user_id)`, which holds exactly the role's users created
//!   in it, in creation order), and paged from it when sorted by creation time;
//! - roles are fetched for the page's rows only, after the `LIMIT`.

use serde::Serialize;

use super::{HumanUser, REPO, from_row};
use crate::db::listing::{ListStatements, statement};
use crate::db::paging::{Direction, Page, PageRequest, Sort, SortField, contains_pattern};
use crate::db::{DbError, TenantExec};
use crate::model::{Timestamp, UserRole, ValidationError};

/// Sortable fields of the users list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSort {
    /// Creation time.
    CreatedAt,
    /// Email (byte order).
    Email,
    /// Display name (missing sorts as empty).
    DisplayName,
}

impl SortField for UserSort {
    const ALL: &'static [Self] = &[Self::CreatedAt, Self::Email, Self::DisplayName];
    fn name(self) -> &'static str {
        match self {
            Self::CreatedAt => "created_at",
            Self::Email => "email",
            Self::DisplayName => "display_name",
        }
    }
}

/// Filters of the users list; all optional, combined with AND.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Case-insensitive substring of email or display name (bound, wildcards escaped).
    pub q: Option<String>,
    /// Enabled flag.
    pub enabled: Option<bool>,
    /// Has this role.
    pub role: Option<UserRole>,
    /// Created at or after.
    pub created_from: Option<Timestamp>,
    /// Created before.
    pub created_to: Option<Timestamp>,
}

impl UserFilter {
    fn pattern(&self) -> Option<String> {
        self.q
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(contains_pattern)
    }
}

/// A keyset page: items and the cursor of the next page (absent on the last page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserSlice {
    /// This page's users.
    pub items: Vec<HumanUser>,
    /// Opaque; pass back to get the next page. Bound to the tenant and the sort.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The columns `from_row` reads, from the user row `x` joined to the page `p` (which holds only
/// the ids and sort keys, so it is read from the sort's index alone): roles for these rows only.
const OUTER_COLUMNS: &str = "x.user_id, x.tenant_id, x.email, x.display_name, x.oidc_subject, \
     x.oidc_issuer, x.enabled, x.created_at, \
     ARRAY(SELECT r.role::text FROM human_user_roles r \
           WHERE r.tenant_id = x.tenant_id AND r.user_id = x.user_id ORDER BY 1) AS roles";

/// The page's users, each read by id. A LATERAL subquery that cannot be flattened (its `LIMIT`),
/// so it is always a per-row index lookup: as a plain join, a generic plan (which assumes
/// `LIMIT $n` keeps 10 % of the tenant) hashed the whole table for the page's 20 ids.
const JOIN_USERS: &str = "CROSS JOIN LATERAL (SELECT * FROM human_users x \
     WHERE x.tenant_id = $1 AND x.user_id = p.user_id LIMIT 1) x";

/// Which filters a call has: the shape's filter bits. The role is part of the shape, not a
/// parameter: a literal of the closed `user_role` enum (never caller text), so a generic plan
/// knows how many users hold it (1 % owners, not the planner's default 25 % for a parameter).
#[derive(Debug, Clone, Copy)]
struct Present {
    q: bool,
    enabled: bool,
    role: Option<UserRole>,
    from: bool,
    to: bool,
}

impl Present {
    fn bits(self) -> u32 {
        let flags: u32 = [self.q, self.enabled, self.from, self.to]
            .into_iter()
            .enumerate()
            .map(|(i, on)| u32::from(on) << i)
            .sum();
        let role = match self.role {
            None => 0,
            Some(UserRole::Owner) => 1,
            Some(UserRole::Admin) => 2,
            Some(UserRole::Auditor) => 3,
            Some(UserRole::Operator) => 4,
        };
        flags | (role << 4)
    }

    /// The parameter number of each present filter (`$1` is the tenant), in the order `q`,
    /// `enabled`, `created_from`, `created_to`, and the first free number.
    fn numbers(self) -> Numbers {
        let mut next = 2;
        let mut take = |on: bool| {
            on.then(|| {
                next += 1;
                next - 1
            })
        };
        let q = take(self.q);
        let enabled = take(self.enabled);
        let from = take(self.from);
        let to = take(self.to);
        Numbers {
            q,
            enabled,
            from,
            to,
            next,
        }
    }

    /// `u.tenant_id = $1` and each present filter; returns the condition and the first free
    /// parameter number.
    ///
    /// With a role, the `enabled` and creation-time filters are stated on the role row too (its
    /// copies of the user's values, migration 0020), so the role row's own index can serve them.
    fn condition(self) -> (String, usize) {
        let k = self.numbers();
        let mut sql = String::from("u.tenant_id = $1");
        sql.push_str(&k.search());
        sql.push_str(&k.filters("u.enabled", "u.created_at"));
        if let Some(role) = self.role {
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM human_user_roles r WHERE r.tenant_id = u.tenant_id \
                 AND r.user_id = u.user_id AND r.role = '{}'::user_role{})",
                role.as_str(),
                k.filters(ROLE_ROW_ENABLED, ROLE_ROW_CREATED)
            ));
        }
        (sql, k.next)
    }

    /// With a role and a creation-time range or `enabled`: the matching users as
    /// `FROM … WHERE …` over their role rows, which carry copies of both (migration 0020), read
    /// from the role's index range (in creation order with a range), joined to the user only for
    /// `q`. A user holds a role at most once (`uq_human_user_roles_user_role`) and every role row
    /// has its user (foreign key), so each role row is one matching user. `None` for other
    /// shapes: a role alone matches up to all of the tenant, and without a role there is no
    /// role row to read.
    fn by_role(self) -> Option<String> {
        let role = self.role?;
        if !(self.from || self.to || self.enabled) {
            return None;
        }
        let k = self.numbers();
        let mut sql = String::from("FROM human_user_roles r");
        if self.q {
            sql.push_str(
                " JOIN human_users u ON u.tenant_id = r.tenant_id AND u.user_id = r.user_id",
            );
        }
        sql.push_str(&format!(
            " WHERE r.tenant_id = $1 AND r.role = '{}'::user_role",
            role.as_str()
        ));
        sql.push_str(&k.filters(ROLE_ROW_ENABLED, ROLE_ROW_CREATED));
        sql.push_str(&k.search());
        Some(sql)
    }
}

/// The role row's copies of its user's `enabled` and `created_at` (migration 0020).
const ROLE_ROW_ENABLED: &str = "r.user_enabled";
const ROLE_ROW_CREATED: &str = "r.user_created_at";

/// The parameter numbers of a shape's present filters (see [`Present::numbers`]).
struct Numbers {
    q: Option<usize>,
    enabled: Option<usize>,
    from: Option<usize>,
    to: Option<usize>,
    next: usize,
}

impl Numbers {
    /// ` AND` the `q` search on the user `u` (empty without one).
    fn search(&self) -> String {
        self.q
            .map(|q| format!(" AND (u.email ILIKE ${q} OR u.display_name ILIKE ${q})"))
            .unwrap_or_default()
    }

    /// ` AND` the `enabled` and creation-time filters on the columns `enabled` and `created`
    /// (the user's own, or a role row's copies); empty without them.
    fn filters(&self, enabled: &str, created: &str) -> String {
        let mut sql = String::new();
        if let Some(e) = self.enabled {
            sql.push_str(&format!(" AND {enabled} = ${e}"));
        }
        if let Some(f) = self.from {
            sql.push_str(&format!(" AND {created} >= ${f}"));
        }
        if let Some(t) = self.to {
            sql.push_str(&format!(" AND {created} < ${t}"));
        }
        sql
    }
}

/// The SQL of a sort: the key expression (as in its index), the key's cast from cursor text, the
/// direction keyword and the cursor comparison.
struct SortSql {
    key: &'static str,
    cast: &'static str,
    dir: &'static str,
    after: &'static str,
}

impl SortSql {
    fn of(sort: Sort<UserSort>) -> Self {
        let (key, cast) = match sort.field {
            UserSort::CreatedAt => ("u.created_at", "::timestamptz"),
            UserSort::Email => ("u.email", ""),
            UserSort::DisplayName => ("COALESCE(u.display_name, '')", ""),
        };
        let (dir, after) = match sort.direction {
            Direction::Asc => ("ASC", ">"),
            Direction::Desc => ("DESC", "<"),
        };
        Self {
            key,
            cast,
            dir,
            after,
        }
    }

    fn index(sort: Sort<UserSort>) -> u32 {
        let field = match sort.field {
            UserSort::CreatedAt => 0,
            UserSort::Email => 1,
            UserSort::DisplayName => 2,
        };
        field * 2 + u32::from(sort.direction == Direction::Desc)
    }

    /// `ORDER BY` of the inner query (the index order).
    fn inner_order(&self) -> String {
        format!("{} {dir}, u.user_id {dir}", self.key, dir = self.dir)
    }

    /// `ORDER BY` of the outer query over `p`.
    fn outer_order(&self) -> String {
        format!("p.sort_key {dir}, p.user_id {dir}", dir = self.dir)
    }
}

/// The shape's statement kinds (bits 10.. of the key).
#[derive(Clone, Copy)]
enum Kind {
    Page = 0,
    Count = 1,
    Estimate = 2,
    First = 3,
    After = 4,
}

fn key(present: Present, sort: Sort<UserSort>, kind: Kind) -> u32 {
    present.bits() | (SortSql::index(sort) << 7) | ((kind as u32) << 10)
}

fn list_statements(present: Present, sort: Sort<UserSort>) -> ListStatements {
    let build = |kind: Kind| {
        statement("users", key(present, sort, kind), || {
            let (cond, n) = present.condition();
            let s = SortSql::of(sort);
            let by_role = present.by_role();
            // Counted in user_id order (the (tenant_id, user_id) index, which the role index
            // also ends with): unordered, a tenant holding most of the table is counted by a
            // sequential scan that stops at the cap, a full scan whenever fewer rows match. A
            // role with a range or `enabled` is counted from its role rows' index, in its order.
            let counted = |cap: usize| match &by_role {
                Some(source) => format!("SELECT 1 {source} LIMIT ${cap}"),
                None => format!(
                    "SELECT 1 FROM human_users u WHERE {cond} ORDER BY u.user_id LIMIT ${cap}"
                ),
            };
            // The page's ids and sort keys: in the sort's index order, or for a role with a
            // range or `enabled` sorted by creation time, in its role rows' index order (the
            // same key).
            let page_ids = match (&by_role, sort.field) {
                (Some(source), UserSort::CreatedAt) => format!(
                    "SELECT r.user_id, r.user_created_at AS sort_key {source} \
                     ORDER BY r.user_created_at {dir}, r.user_id {dir}",
                    dir = s.dir,
                ),
                _ => format!(
                    "SELECT u.user_id, {key} AS sort_key FROM human_users u WHERE {cond} \
                     ORDER BY {inner}",
                    key = s.key,
                    inner = s.inner_order(),
                ),
            };
            match kind {
                // The count is a MATERIALIZED CTE, so it runs once: as a join input, a generic
                // plan (which cannot tell the page has 20 rows) ran it again for every row.
                Kind::Page => format!(
                    "WITH t AS MATERIALIZED (SELECT count(*) AS n FROM ({count}) c) \
                     SELECT {OUTER_COLUMNS}, t.n AS total \
                     FROM ({page_ids} LIMIT ${n} OFFSET ${o}) p {JOIN_USERS}, t \
                     ORDER BY {outer}",
                    count = counted(n + 2),
                    outer = s.outer_order(),
                    o = n + 1,
                ),
                Kind::Count => format!("SELECT count(*) FROM ({}) c", counted(n)),
                // Estimated from the rows it counts: for a role with a range or `enabled`, the
                // role rows' statistics of their own copies.
                _ => match &by_role {
                    Some(source) => format!("EXPLAIN (FORMAT JSON) SELECT 1 {source}"),
                    None => {
                        format!("EXPLAIN (FORMAT JSON) SELECT 1 FROM human_users u WHERE {cond}")
                    }
                },
            }
        })
    };
    ListStatements {
        page: build(Kind::Page),
        count: build(Kind::Count),
        estimate: build(Kind::Estimate),
    }
}

/// The most rows a keyset page fetches: the largest limit, plus one to see whether more follow.
const MAX_FETCH: i64 = MAX_LIMIT + 1;
/// The largest keyset page.
const MAX_LIMIT: i64 = 100;

fn keyset_statement(present: Present, sort: Sort<UserSort>, after: bool) -> &'static str {
    let kind = if after { Kind::After } else { Kind::First };
    statement("users", key(present, sort, kind), || {
        let (cond, n) = present.condition();
        let s = SortSql::of(sort);
        let (cursor, limit) = if after {
            (
                format!(
                    " AND ({key}, u.user_id) {cmp} (${n}::text{cast}, ${id}::text)",
                    key = s.key,
                    cmp = s.after,
                    cast = s.cast,
                    id = n + 1,
                ),
                n + 2,
            )
        } else {
            (String::new(), n)
        };
        // The inner LIMIT is the largest fetch, a constant: with `LIMIT $n` a generic plan is
        // made for 10 % of the matching rows, and reads and sorts the whole tenant.
        format!(
            "SELECT {OUTER_COLUMNS} \
             FROM (SELECT u.user_id, {key} AS sort_key FROM human_users u WHERE {cond}{cursor} \
                   ORDER BY {inner} LIMIT {MAX_FETCH}) p {JOIN_USERS} \
             ORDER BY {outer} LIMIT ${limit}",
            key = s.key,
            inner = s.inner_order(),
            outer = s.outer_order(),
        )
    })
}

/// The statements [`list`] and [`list_after`] send for the shape of `filter` and `sort` (for plan
/// guards and benchmarks). Parameters: `$1` the tenant, then each present filter in the order
/// `q` (the escaped `%…%` pattern), `enabled`, `created_from`, `created_to` (the role is a literal of the shape); then
/// `list.page` and `list.count` take theirs as [`ListStatements`] says, `first` the row limit
/// (limit + 1), and `after` the cursor's sort key and user id, then the row limit.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct UserListSql {
    /// Offset pages.
    pub list: ListStatements,
    /// The first keyset page.
    pub first: &'static str,
    /// A keyset page after a cursor.
    pub after: &'static str,
}

/// The [`UserListSql`] of a shape.
#[doc(hidden)]
pub fn shape_sql(filter: &UserFilter, sort: Sort<UserSort>) -> UserListSql {
    let present = Bound::of(filter).present();
    UserListSql {
        list: list_statements(present, sort),
        first: keyset_statement(present, sort, false),
        after: keyset_statement(present, sort, true),
    }
}

/// The bound values of a call's filters, in parameter order after the tenant (`$1`). Public
/// (hidden) so `brokerdb bench` binds its raw side exactly as the library does.
#[doc(hidden)]
pub struct Bound {
    pattern: Option<String>,
    enabled: Option<bool>,
    role: Option<UserRole>,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
}

impl Bound {
    /// The values of `filter`'s present filters (`q` as its escaped pattern).
    pub fn of(filter: &UserFilter) -> Self {
        Self {
            pattern: filter.pattern(),
            enabled: filter.enabled,
            role: filter.role,
            from: filter.created_from,
            to: filter.created_to,
        }
    }

    fn present(&self) -> Present {
        Present {
            q: self.pattern.is_some(),
            enabled: self.enabled.is_some(),
            role: self.role,
            from: self.from.is_some(),
            to: self.to.is_some(),
        }
    }

    /// Whether the shape has `q` (planned per call).
    pub fn has_pattern(&self) -> bool {
        self.pattern.is_some()
    }

    /// The tenant and the present filters' values, in the shape's parameter order.
    pub fn params<'p>(
        &'p self,
        tenant: &'p (dyn tokio_postgres::types::ToSql + Sync),
    ) -> Vec<&'p (dyn tokio_postgres::types::ToSql + Sync)> {
        let mut params = vec![tenant];
        if let Some(p) = &self.pattern {
            params.push(p);
        }
        if let Some(e) = &self.enabled {
            params.push(e);
        }
        if let Some(f) = &self.from {
            params.push(f);
        }
        if let Some(t) = &self.to {
            params.push(t);
        }
        params
    }
}

/// One offset page of the executor's users: `{items, page, pageSize, total, totalPages}`, the
/// total exact up to [`crate::db::DbSettings::exact_total_limit`] (1,000 by default) and the
/// planner's estimate beyond, with `total_is_estimate` set. `PageRequest::default()` is page 1
/// of 50; the maximum page size is 100. Page 1 reads about as many rows as it returns whatever
/// the tenant's size; page `n` also skips the `(n - 1) × pageSize` rows before it (use
/// [`list_after`] to read deep).
pub async fn list(
    exec: &mut impl TenantExec,
    filter: &UserFilter,
    sort: Sort<UserSort>,
    page: PageRequest,
) -> Result<Page<HumanUser>, DbError> {
    let bound = Bound::of(filter);
    let tenant = exec.tenant_id().clone();
    let params = bound.params(&tenant);
    let statements = list_statements(bound.present(), sort);
    exec.op(REPO, "list")
        .planned_per_call(bound.present().q)
        .offset_page(&statements, &params, page, from_row)
        .await
}

fn sort_key(user: &HumanUser, field: UserSort) -> String {
    match field {
        UserSort::CreatedAt => user.created_at.to_string(),
        UserSort::Email => user.email.clone(),
        UserSort::DisplayName => user.display_name.clone().unwrap_or_default(),
    }
}

/// Keyset paging over the same filters and sorts, for deep pages: `limit` 1..=100; `cursor`
/// from the previous slice (a tampered, malformed, other-sort or other-tenant cursor →
/// `validation_error`). Every page is an index range read from the cursor on, so reading a whole
/// tenant page by page costs O(n) in total. Fetches `limit + 1` rows, so the last page has no
/// cursor.
pub async fn list_after(
    exec: &mut impl TenantExec,
    filter: &UserFilter,
    sort: Sort<UserSort>,
    limit: i64,
    cursor: Option<&str>,
) -> Result<UserSlice, DbError> {
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ValidationError::new("limit", "must be an integer from 1 to 100").into());
    }
    let key = exec.db().cursor_key().clone();
    let tenant = exec.tenant_id().clone();
    let after = cursor
        .map(|c| key.decode(tenant.as_str(), &sort.tag(), c))
        .transpose()?;
    let last = match after.as_deref() {
        Some([k, id]) => Some((k.clone(), id.clone())),
        Some(_) => {
            return Err(
                ValidationError::new("cursor", "is not a valid cursor for this list").into(),
            );
        }
        None => None,
    };
    let bound = Bound::of(filter);
    let present = bound.present();
    let fetch = limit + 1;
    let mut params = bound.params(&tenant);
    if let Some((k, id)) = &last {
        params.push(k);
        params.push(id);
    }
    params.push(&fetch);
    let sql = keyset_statement(present, sort, last.is_some());
    let mut items = exec
        .op(REPO, "list_after")
        .planned_per_call(present.q)
        .query_all(sql, &params, from_row)
        .await?;
    let more = items.len() as i64 > limit;
    items.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = match items.last() {
        Some(last) if more => Some(key.encode(
            tenant.as_str(),
            &sort.tag(),
            &[sort_key(last, sort.field), last.user_id.to_string()],
        )),
        _ => None,
    };
    Ok(UserSlice { items, next_cursor })
}

/// The statements [`list`] runs for the filters present in `filter` and `sort`, for sending them
/// outside the library (`brokerdb bench` measures them raw). Parameters: `$1` the tenant, then
/// each present filter in the order q (its [`crate::db::paging::contains_pattern`]), enabled,
/// created from, created to (the role is a literal of the shape, not a parameter); then as [`ListStatements`] says. A shape with `q` is
/// planned per call by the library (sent unnamed).
pub fn list_statement_texts(filter: &UserFilter, sort: Sort<UserSort>) -> ListStatements {
    list_statements(Bound::of(filter).present(), sort)
}

/// The statement [`list_after`] runs for the filters present in `filter` and `sort`: the first
/// page (`after_cursor` false) or a page after a cursor. Parameters: the tenant and the present
/// filters as in [`list_statement_texts`], then after a cursor the cursor's sort key and user id
/// (text), then the row limit (`bigint`, one more than the page).
pub fn list_after_statement_text(
    filter: &UserFilter,
    sort: Sort<UserSort>,
    after_cursor: bool,
) -> &'static str {
    keyset_statement(Bound::of(filter).present(), sort, after_cursor)
}
