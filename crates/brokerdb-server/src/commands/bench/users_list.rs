//! The users list at scale (`--list-users`, a million by default, in a tenant of its own): page 1
//! of every filter × sort shape at one caller (the matrix), a few representative lists and keyset
//! pages at every concurrency, each beside the library's own statement text sent raw.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use brokerdb::db::paging::{Direction, PageRequest, Sort};
use brokerdb::db::{Db, DbSettings};
use brokerdb::model::{TenantId, Timestamp, UserRole};
use brokerdb::repo::users::{self, UserFilter, UserSort};
use tokio_postgres::Client;
use tokio_postgres::types::ToSql;

use super::BenchConfig;
use super::raw::RawConn;
use super::stats::Measurement;
use super::timed::{self, Call};

/// The matrix row's name (for `--only`).
pub const MATRIX: &str = "users::list matrix (every filter × sort, page 1 of 20, 1 caller)";
/// Implementation label of the library side.
pub const LIBRARY: &str = "brokerdb (library, tenant scope)";
/// Implementation label of the raw side.
pub const RAW: &str = "tokio-postgres, same statements pipelined";

/// A ladder row of the list tenant.
#[derive(Debug, Clone, Copy)]
pub struct ListRow {
    /// Row label.
    pub name: &'static str,
    /// What each call does.
    pub kind: ListKind,
}

/// What a ladder row calls.
#[derive(Debug, Clone, Copy)]
pub enum ListKind {
    /// `users::list`, page 1 of `size`, newest first; `admins` filters `enabled=true&role=admin`.
    Page {
        /// Page size.
        size: i64,
        /// `enabled=true&role=admin`.
        admins: bool,
    },
    /// `users::list_after`, 20 rows after the cursor of a random user, newest first.
    After,
}

/// The ladder rows (every concurrency).
pub const LIST_ROWS: [ListRow; 4] = [
    ListRow {
        name: "users::list page 1 of 20 (no filter, newest first)",
        kind: ListKind::Page {
            size: 20,
            admins: false,
        },
    },
    ListRow {
        name: "users::list page 1 of 20 (enabled=true&role=admin, newest first)",
        kind: ListKind::Page {
            size: 20,
            admins: true,
        },
    },
    ListRow {
        name: "users::list page 1 of 50 (no filter, newest first)",
        kind: ListKind::Page {
            size: 50,
            admins: false,
        },
    },
    ListRow {
        name: "users::list_after 20 rows (keyset, random depth, newest first)",
        kind: ListKind::After,
    },
];

/// Every PostgreSQL row name of this module (for `--only`).
pub fn names() -> impl Iterator<Item = &'static str> {
    LIST_ROWS.iter().map(|r| r.name).chain([MATRIX])
}

/// The tenant holding `n` users (one tenant per size, so sizes never mix).
pub fn tenant(n: u32) -> String {
    format!("t_list_{n}")
}

fn id_prefix(n: u32) -> String {
    format!("u_l{n}_")
}

/// Seeds the list tenant with the shared generator (`brokerdb-scale`) unless it already has its
/// `n` users; progress on stderr.
pub async fn seed(client: &Client, n: u32) -> anyhow::Result<()> {
    let tenant = tenant(n);
    let have: i64 = client
        .query_one(
            "SELECT count(*) FROM human_users WHERE tenant_id = $1",
            &[&tenant],
        )
        .await?
        .get(0);
    if have >= i64::from(n) {
        eprintln!("users list: {tenant} already has its {n} users");
        return Ok(());
    }
    let started = Instant::now();
    eprintln!("users list: seeding {n} users into {tenant} (a million take a few minutes) …");
    brokerdb_scale::seed_users_reporting(
        client,
        &tenant,
        &id_prefix(n),
        i32::try_from(n)?,
        |step| {
            eprintln!(
                "users list: {:>5.1} s: {}",
                started.elapsed().as_secs_f64(),
                match step {
                    brokerdb_scale::Step::Users => "inserting users",
                    brokerdb_scale::Step::Roles => "inserting roles",
                    brokerdb_scale::Step::Analyze => "analyzing",
                }
            );
        },
    )
    .await
    .context("cannot seed the users list tenant")?;
    // As autovacuum would later, in the middle of the measurements: set the visibility map now.
    // One statement each: VACUUM cannot run in the implicit transaction of a multi-statement batch.
    for table in ["human_users", "human_user_roles"] {
        client.batch_execute(&format!("VACUUM {table}")).await?;
    }
    eprintln!(
        "users list: seeded in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The `q` values of the matrix: one rare (11 users at 1M) and one that matches every user.
pub const Q_VALUES: [&str; 2] = ["user12345", "example"];
/// The `created` range of the matrix: March 2024 (≈ 4.3 % of a million users).
pub const CREATED_RANGE: (&str, &str) = ("2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z");

/// One list call's filters and sort.
#[derive(Debug, Clone)]
pub struct Shape {
    /// `q`, when present.
    pub q: Option<&'static str>,
    /// `enabled=true` present.
    pub enabled: bool,
    /// `role=admin` present.
    pub role: bool,
    /// The `created` range present.
    pub created: bool,
    /// The sort.
    pub sort: Sort<UserSort>,
}

impl Shape {
    /// The library's filter.
    pub fn filter(&self) -> anyhow::Result<UserFilter> {
        let (from, to) = if self.created {
            (
                Some(Timestamp::parse(CREATED_RANGE.0)?),
                Some(Timestamp::parse(CREATED_RANGE.1)?),
            )
        } else {
            (None, None)
        };
        Ok(UserFilter {
            q: self.q.map(str::to_owned),
            enabled: self.enabled.then_some(true),
            role: self.role.then_some(UserRole::Admin),
            created_from: from,
            created_to: to,
        })
    }

    /// The sort as `field direction`.
    pub fn sort_label(&self) -> String {
        sort_label(self.sort)
    }
}

fn sort_label(sort: Sort<UserSort>) -> String {
    let field = match sort.field {
        UserSort::CreatedAt => "created_at",
        UserSort::Email => "email",
        UserSort::DisplayName => "display_name",
    };
    format!("{field} {}", sort.direction.as_str())
}

const NEWEST_FIRST: Sort<UserSort> = Sort {
    field: UserSort::CreatedAt,
    direction: Direction::Desc,
};

/// Every filter combination (q absent, rare or common; enabled; role; created range) × every sort.
pub fn matrix_shapes() -> Vec<Shape> {
    let mut shapes = Vec::new();
    for bits in 0..16u8 {
        let qs: Vec<Option<&'static str>> = if bits & 1 == 0 {
            vec![None]
        } else {
            Q_VALUES.iter().copied().map(Some).collect()
        };
        for q in qs {
            for field in [UserSort::CreatedAt, UserSort::Email, UserSort::DisplayName] {
                for direction in [Direction::Asc, Direction::Desc] {
                    shapes.push(Shape {
                        q,
                        enabled: bits & 2 != 0,
                        role: bits & 4 != 0,
                        created: bits & 8 != 0,
                        sort: Sort { field, direction },
                    });
                }
            }
        }
    }
    shapes
}

/// Page 1 of `size` through the library; returns the page's total and whether it is an estimate.
async fn library_page(
    db: &Db,
    tenant: &TenantId,
    filter: &UserFilter,
    sort: Sort<UserSort>,
    size: i64,
) -> anyhow::Result<(u64, bool)> {
    let page = users::list(
        &mut db.tenant(tenant),
        filter,
        sort,
        PageRequest::new(1, size)?,
    )
    .await?;
    Ok((page.total, page.total_is_estimate))
}

/// Page 1 of `size` raw: the library's page statement, and its estimate statement when the capped
/// count passed the exact-total limit, as the library runs them.
async fn raw_page(
    conn: &RawConn,
    tenant: &String,
    filter: &UserFilter,
    sort: Sort<UserSort>,
    size: i64,
) -> anyhow::Result<()> {
    let statements = users::list_statement_texts(filter, sort);
    let values = users::UserListValues::of(filter);
    let per_call = values.has_pattern();
    let exact_limit = DbSettings::default().exact_total_limit;
    let (offset, cap) = (0_i64, i64::from(exact_limit) + 1);
    let mut params = values.params(tenant);
    params.extend([&size as &(dyn ToSql + Sync), &offset, &cap]);
    let rows = conn
        .scoped(tenant, statements.page, &params, per_call)
        .await?;
    let counted: i64 = match rows.first() {
        Some(row) => row.try_get("total")?,
        None => 0,
    };
    if counted > i64::from(exact_limit) {
        conn.scoped(tenant, statements.estimate, &values.params(tenant), true)
            .await?;
    }
    Ok(())
}

/// One keyset position: the cursor the library is given and the key it carries.
struct Position {
    cursor: String,
    key: String,
    user_id: String,
}

/// Cursors after `count` random users of the list tenant (newest first), signed with `db`'s key.
async fn positions(admin: &Client, db: &Db, n: u32, count: usize) -> anyhow::Result<Vec<Position>> {
    let tenant = tenant(n);
    let ids: Vec<String> = (0..count)
        .map(|_| format!("{}{}", id_prefix(n), rand::random_range(1..=n)))
        .collect();
    let rows = admin
        .query(
            "SELECT user_id, created_at FROM human_users WHERE tenant_id = $1 AND user_id = ANY($2)",
            &[&tenant, &ids],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let user_id: String = row.try_get(0)?;
        let created: Timestamp = row.try_get(1)?;
        let key = created.to_string();
        let cursor = db.cursor_key().encode(
            &tenant,
            &NEWEST_FIRST.tag(),
            &[key.clone(), user_id.clone()],
        );
        out.push(Position {
            cursor,
            key,
            user_id,
        });
    }
    anyhow::ensure!(!out.is_empty(), "the users list tenant has no users");
    Ok(out)
}

/// Everything a call needs, shared by the callers.
struct Shared {
    db: Db,
    tenant: TenantId,
    tenant_text: String,
    raw: Vec<RawConn>,
    positions: Vec<Position>,
}

impl Shared {
    fn position(&self) -> &Position {
        let i = rand::random_range(0..self.positions.len());
        &self.positions[i]
    }

    fn raw(&self, caller: usize) -> anyhow::Result<&RawConn> {
        self.raw
            .get(caller)
            .context("more callers than raw connections")
    }
}

fn admins_filter(admins: bool) -> UserFilter {
    UserFilter {
        enabled: admins.then_some(true),
        role: admins.then_some(UserRole::Admin),
        ..UserFilter::default()
    }
}

fn library_call(shared: &Arc<Shared>, kind: ListKind) -> Call {
    let shared = Arc::clone(shared);
    Arc::new(move |_, _| {
        let shared = Arc::clone(&shared);
        Box::pin(async move {
            match kind {
                ListKind::Page { size, admins } => {
                    let filter = admins_filter(admins);
                    library_page(&shared.db, &shared.tenant, &filter, NEWEST_FIRST, size).await?;
                }
                ListKind::After => {
                    let at = shared.position();
                    users::list_after(
                        &mut shared.db.tenant(&shared.tenant),
                        &UserFilter::default(),
                        NEWEST_FIRST,
                        20,
                        Some(&at.cursor),
                    )
                    .await?;
                }
            }
            Ok(())
        })
    })
}

fn raw_call(shared: &Arc<Shared>, kind: ListKind) -> Call {
    let shared = Arc::clone(shared);
    Arc::new(move |caller, _| {
        let shared = Arc::clone(&shared);
        Box::pin(async move {
            let conn = shared.raw(caller)?;
            match kind {
                ListKind::Page { size, admins } => {
                    let filter = admins_filter(admins);
                    raw_page(conn, &shared.tenant_text, &filter, NEWEST_FIRST, size).await?;
                }
                ListKind::After => {
                    let at = shared.position();
                    let sql = users::list_after_statement_text(
                        &UserFilter::default(),
                        NEWEST_FIRST,
                        true,
                    );
                    let fetch = 21_i64;
                    let params: [&(dyn ToSql + Sync); 4] =
                        [&shared.tenant_text, &at.key, &at.user_id, &fetch];
                    conn.scoped(&shared.tenant_text, sql, &params, false)
                        .await?;
                }
            }
            Ok(())
        })
    })
}

/// One shape of the matrix at one caller: the library's and the raw side's latencies, and the
/// library page's total.
#[derive(Debug, Clone)]
pub struct MatrixRow {
    /// The filters and sort.
    pub shape: Shape,
    /// Library side.
    pub library: Measurement,
    /// Raw side (the same statements).
    pub raw: Measurement,
    /// The page's total, and whether it is the planner's estimate.
    pub total: (u64, bool),
}

/// What this module measured.
#[derive(Debug, Default)]
pub struct ListResults {
    /// Ladder rows.
    pub rows: Vec<Measurement>,
    /// The matrix (empty when not selected).
    pub matrix: Vec<MatrixRow>,
}

/// Whether `--only` selects any row of this module.
pub fn selected(config: &BenchConfig) -> bool {
    names().any(|name| config.selects("postgres", name))
}

/// Measures the selected rows (on the tenant [`seed`] filled).
pub async fn measure(
    config: &BenchConfig,
    db: &Db,
    admin: &Client,
    runtime: &brokerdb::conninfo::ConnInfo,
) -> anyhow::Result<ListResults> {
    let ladder: Vec<ListRow> = LIST_ROWS
        .into_iter()
        .filter(|r| config.selects("postgres", r.name))
        .collect();
    let with_matrix = config.selects("postgres", MATRIX);
    let mut out = ListResults::default();
    if ladder.is_empty() && !with_matrix {
        return Ok(out);
    }
    let n = config.list_users;
    let max_callers = usize::from(config.concurrency.iter().copied().max().unwrap_or(1));
    let shared = Arc::new(Shared {
        db: db.clone(),
        tenant: tenant(n).parse()?,
        tenant_text: tenant(n),
        raw: super::raw::connections(runtime, max_callers).await?,
        positions: positions(admin, db, n, 1_000).await?,
    });
    for row in ladder {
        let (library, raw) = (library_call(&shared, row.kind), raw_call(&shared, row.kind));
        for callers in config.concurrency.iter().copied().map(usize::from) {
            eprintln!("{} × {callers} …", row.name);
            let [(lib, lib_time), (raw_lat, raw_time)] =
                timed::run_interleaved(&library, &raw, callers, config.seconds).await?;
            out.rows.push(Measurement::from_latencies(
                row.name, LIBRARY, callers, lib, lib_time,
            ));
            out.rows.push(
                Measurement::from_latencies(row.name, RAW, callers, raw_lat, raw_time)
                    .baseline_of(""),
            );
        }
    }
    if with_matrix {
        out.matrix = matrix(&shared, config.matrix_calls).await?;
    }
    Ok(out)
}

/// Every shape at one caller: 3 warm-up calls of each side, then `calls` of each, alternating.
async fn matrix(shared: &Shared, calls: u32) -> anyhow::Result<Vec<MatrixRow>> {
    let shapes = matrix_shapes();
    let conn = shared.raw(0)?;
    let mut rows = Vec::with_capacity(shapes.len());
    eprintln!(
        "{MATRIX}: {} shapes × {calls} calls per side …",
        shapes.len()
    );
    let (count, started) = (shapes.len(), Instant::now());
    for (i, shape) in shapes.into_iter().enumerate() {
        if i > 0 && i % 24 == 0 {
            eprintln!(
                "users::list matrix: {i} of {count} shapes in {:.0} s …",
                started.elapsed().as_secs_f64()
            );
        }
        let filter = shape.filter()?;
        let mut total = (0, false);
        for _ in 0..3 {
            total = library_page(&shared.db, &shared.tenant, &filter, shape.sort, 20).await?;
            raw_page(conn, &shared.tenant_text, &filter, shape.sort, 20).await?;
        }
        let (mut lib, mut raw) = (Vec::new(), Vec::new());
        let (mut lib_time, mut raw_time) = (Duration::ZERO, Duration::ZERO);
        for _ in 0..calls {
            let started = Instant::now();
            library_page(&shared.db, &shared.tenant, &filter, shape.sort, 20).await?;
            let took = started.elapsed();
            lib.push(micros(took));
            lib_time += took;
            let started = Instant::now();
            raw_page(conn, &shared.tenant_text, &filter, shape.sort, 20).await?;
            let took = started.elapsed();
            raw.push(micros(took));
            raw_time += took;
        }
        rows.push(MatrixRow {
            library: Measurement::from_latencies(MATRIX, LIBRARY, 1, lib, lib_time),
            raw: Measurement::from_latencies(MATRIX, RAW, 1, raw, raw_time),
            shape,
            total,
        });
    }
    Ok(rows)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_covers_every_filter_combination_and_sort() {
        let shapes = matrix_shapes();
        // 8 combinations without q × 6 sorts, 8 with q × 2 values × 6 sorts.
        assert_eq!(shapes.len(), 48 + 96);
        let distinct: std::collections::HashSet<_> = shapes
            .iter()
            .map(|s| (s.q.is_some(), s.enabled, s.role, s.created, s.sort_label()))
            .collect();
        assert_eq!(distinct.len(), 16 * 6);
    }
}
