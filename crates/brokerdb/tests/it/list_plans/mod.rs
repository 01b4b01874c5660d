//! Plan guards: every list keeps an index-driven plan at a million rows in a tenant, under custom
//! and generic plans alike.
//!
//! One scale database is built and seeded once per test process ([`scale`]: a process-wide
//! once-cell; rows from `generate_series` through the `brokerdb_testkit::scale` generators) and
//! shared by the guards of every list. Each guard runs `EXPLAIN (FORMAT JSON)` of the exact
//! statement the library sends for a shape, as the role the library uses (`brokerdb_app` with
//! `brokerdb.tenant_id` set, or `brokerdb_system` for the admin lists), once with
//! `plan_cache_mode = force_custom_plan` (planned for the values) and once with
//! `force_generic_plan` (the plan a prepared statement falls back to after five calls), and
//! checks the plan tree with [`Plan`]'s assertions.
//!
//! Seeding takes minutes. To iterate on a guard, keep a seeded database (rename the
//! `brokerdb_proc_<pid>_scale_…` database a run left, before the next run drops it) and name it
//! in `BROKERDB_SCALE_DATABASE`: the guards then use it as it is, without seeding.

mod admin;
mod approvals;
mod audit_events;
mod tenant_lists;
mod users;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use brokerdb::conninfo::{self, ConnInfo};
use brokerdb_testkit::{TestDatabase, process_database, scale as generate};
use serde_json::Value;
use tokio::sync::OnceCell;
use tokio_postgres::Client;

use crate::support::Error;

/// The tenant with a million users, audit events and approvals (and 100,000 workloads and
/// integrations).
pub const BIG: &str = "t_big";
/// A second, small tenant, so the planner sees more than one tenant in each table.
pub const SMALL: &str = "t_small";
/// Rows of the big tenant in each large table.
pub const MILLION: i32 = 1_000_000;
/// Admin identities and access requests.
pub const ADMINS: i32 = 200_000;
/// Id prefix of the admin identities (and of their scope tenants `adm_t0` … `adm_t99`).
pub const ADMIN_PREFIX: &str = "adm_";
/// Id prefix of the access requests (and of their requested tenants `aar_t0` … `aar_t99`).
pub const REQUEST_PREFIX: &str = "aar_";

/// The scale database of this test process.
pub struct Scale {
    /// Superuser settings for it.
    pub admin: ConnInfo,
    /// How long creating and seeding it took (zero for a `BROKERDB_SCALE_DATABASE`).
    pub seeded_in: Duration,
    /// The database, when this process created it (it lives as long as the process).
    _db: Option<TestDatabase>,
}

impl Scale {
    /// A superuser connection.
    pub async fn client(&self) -> Result<Client, Error> {
        Ok(brokerdb_testkit::connect(&self.admin).await?)
    }
}

/// The scale database, or why it could not be seeded: kept either way, so that a failed seeding
/// fails every guard at once instead of being retried (minutes each) by the next one.
static SCALE: OnceCell<Result<Scale, String>> = OnceCell::const_new();

/// The scale database, created and seeded by the first guard that asks (the others wait).
pub async fn scale() -> &'static Scale {
    match SCALE.get_or_init(build).await {
        Ok(scale) => scale,
        Err(e) => panic!("{e}"),
    }
}

async fn build() -> Result<Scale, String> {
    if let Ok(name) = std::env::var("BROKERDB_SCALE_DATABASE") {
        let url = std::env::var("DATABASE_URL").unwrap_or_default();
        let server = ConnInfo::parse(&url)
            .map_err(|e| format!("BROKERDB_SCALE_DATABASE needs DATABASE_URL: {e}"))?;
        return Ok(Scale {
            admin: conninfo::for_database(&server, &name),
            seeded_in: Duration::ZERO,
            _db: None,
        });
    }
    let started = Instant::now();
    let db = process_database("scale").await;
    // Three connections seed at once (the server does the work; the generators' statements are
    // independent), and the whole takes as long as the slowest: the users.
    let (users, audit, rest) = (db.admin().await, db.admin().await, db.admin().await);
    let seeded = tokio::try_join!(
        async {
            timed(
                "1,000,000 users",
                generate::seed_users(&users, BIG, "u_", MILLION),
            )
            .await?;
            generate::seed_users(&users, SMALL, "su_", 1_000).await
        },
        async {
            let big = generate::seed_audit_events(&audit, BIG, "evt_", MILLION);
            timed("1,000,000 audit events", big).await?;
            generate::seed_audit_events(&audit, SMALL, "sevt_", 1_000).await
        },
        async {
            let big = generate::seed_approvals(&rest, BIG, "apr_", MILLION);
            timed("1,000,000 approvals", big).await?;
            generate::seed_approvals(&rest, SMALL, "sapr_", 1_000).await?;
            let big = generate::seed_workloads_and_integrations(&rest, BIG, "big_", 100_000);
            timed("100,000 workloads and integrations", big).await?;
            generate::seed_workloads_and_integrations(&rest, SMALL, "small_", 100).await?;
            let admins = generate::seed_admin_identities(&rest, ADMIN_PREFIX, ADMINS);
            timed("200,000 admin identities", admins).await?;
            let requests = generate::seed_access_requests(&rest, REQUEST_PREFIX, ADMINS);
            timed("200,000 access requests", requests).await
        },
    );
    if let Err(e) = seeded {
        return Err(format!(
            "seeding the scale database failed: {}",
            crate::db_message(&e)
        ));
    }
    let seeded_in = started.elapsed();
    eprintln!("list_plans: scale database seeded in {seeded_in:.1?}");
    Ok(Scale {
        admin: db.admin_config(),
        seeded_in,
        _db: Some(db),
    })
}

/// Runs `step`, then says how long it took.
async fn timed<T>(what: &str, step: impl std::future::Future<Output = T>) -> T {
    let started = Instant::now();
    let out = step.await;
    eprintln!("list_plans: {what} seeded in {:.1?}", started.elapsed());
    out
}

/// How the guard plans a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `plan_cache_mode = force_custom_plan`: planned for the parameter values.
    Custom,
    /// `plan_cache_mode = force_generic_plan`: planned once without the values.
    Generic,
}

/// Both modes.
pub const MODES: [Mode; 2] = [Mode::Custom, Mode::Generic];

/// What a tenant-scoped guard plans: custom plans for the big and the small tenant (a small
/// tenant must not be served by a scan of the big one's rows either), and the generic plan, which
/// is the same for every tenant.
pub const TENANT_RUNS: [(Mode, &str); 3] = [
    (Mode::Custom, BIG),
    (Mode::Custom, SMALL),
    (Mode::Generic, BIG),
];

/// Who runs the statement.
#[derive(Debug, Clone, Copy)]
pub enum As {
    /// `brokerdb_app` with `brokerdb.tenant_id` set to this tenant (the tenant scope).
    Tenant(&'static str),
    /// `brokerdb_system` (the system scope).
    System,
}

/// A superuser connection to the scale database, switched to `who`'s role and settings.
pub async fn connect(who: As) -> Result<Client, Error> {
    let client = scale().await.client().await?;
    match who {
        As::Tenant(t) => {
            client
                .batch_execute(&format!(
                    "SET ROLE brokerdb_app; SELECT set_config('brokerdb.tenant_id', {}, false)",
                    literal(t)
                ))
                .await?
        }
        As::System => client.batch_execute("SET ROLE brokerdb_system").await?,
    }
    Ok(client)
}

/// `text` as a quoted SQL literal (the guards' own values, never input).
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The plan of `sql` with the parameter values `params` (as text, coerced to the parameter types
/// as the server infers them, as when the library binds them) in `mode`: `PREPARE`, then
/// `EXPLAIN (FORMAT JSON) EXECUTE`.
pub async fn explain(
    client: &Client,
    mode: Mode,
    sql: &str,
    params: &[&str],
) -> Result<Plan, Error> {
    let setting = match mode {
        Mode::Custom => "force_custom_plan",
        Mode::Generic => "force_generic_plan",
    };
    client
        .batch_execute(&format!(
            "SET plan_cache_mode = {setting}; DEALLOCATE ALL; PREPARE plan_guard AS {sql}"
        ))
        .await?;
    let args = params
        .iter()
        .map(|p| literal(p))
        .collect::<Vec<_>>()
        .join(", ");
    let execute = if params.is_empty() {
        "EXECUTE plan_guard".to_owned()
    } else {
        format!("EXECUTE plan_guard({args})")
    };
    let row = client
        .query_one(&format!("EXPLAIN (FORMAT JSON) {execute}"), &[])
        .await?;
    let json: Value = row.try_get(0)?;
    client.batch_execute("DEALLOCATE plan_guard").await?;
    let root = json
        .get(0)
        .and_then(|p| p.get("Plan"))
        .cloned()
        .ok_or("EXPLAIN gave no plan")?;
    Ok(Plan {
        root,
        context: format!("{mode:?} plan of\n  {sql}\n  with ({args})"),
    })
}

/// A plan tree and what it is the plan of (for failure messages).
pub struct Plan {
    root: Value,
    context: String,
}

/// A node and its ancestors, root first.
struct Visit<'a> {
    node: &'a Value,
    ancestors: Vec<&'a Value>,
}

fn node_type(node: &Value) -> &str {
    node.get("Node Type").and_then(Value::as_str).unwrap_or("")
}

fn relationship(node: &Value) -> &str {
    node.get("Parent Relationship")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// A sort below a `Limit` may take at most this many rows (by the planner's estimate): the small
/// match set of a selective filter (1 % of a million rows), which the planner rightly reads
/// through that filter's index and sorts, instead of reading the list's order until enough rows
/// pass the filter.
pub const SMALL_SORT: f64 = 10_000.0;

/// A sort of its whole input that is not small ([`SMALL_SORT`]): a `Sort`, or an
/// `Incremental Sort` whose input is not already in the order of its first key (one that only
/// orders the ties of an index's order is fine).
fn is_large_sort(node: &Value) -> bool {
    let keys = |k: &str| -> Vec<String> {
        node.get(k)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|key| {
                key.trim_end_matches(" DESC")
                    .trim_end_matches(" ASC")
                    .to_owned()
            })
            .collect()
    };
    let rows = node
        .get("Plan Rows")
        .and_then(Value::as_f64)
        .unwrap_or(f64::INFINITY);
    let full = match node_type(node) {
        "Sort" => true,
        "Incremental Sort" => keys("Sort Key")
            .first()
            .is_none_or(|first| !keys("Presorted Key").contains(first)),
        _ => false,
    };
    full && rows > SMALL_SORT
}

fn is_index_read(node: &Value) -> bool {
    matches!(
        node_type(node),
        "Index Scan" | "Index Only Scan" | "Bitmap Index Scan"
    )
}

impl Plan {
    fn visits(&self) -> Vec<Visit<'_>> {
        fn walk<'a>(node: &'a Value, ancestors: &mut Vec<&'a Value>, out: &mut Vec<Visit<'a>>) {
            out.push(Visit {
                node,
                ancestors: ancestors.clone(),
            });
            ancestors.push(node);
            for child in node
                .get("Plans")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                walk(child, ancestors, out);
            }
            ancestors.pop();
        }
        let mut out = Vec::new();
        walk(&self.root, &mut Vec::new(), &mut out);
        out
    }

    /// The tree, one node a line, for failure messages.
    pub fn outline(&self) -> String {
        let mut out = self.context.clone();
        for v in self.visits() {
            let n = v.node;
            let _ = write!(
                out,
                "\n{}-> {}{}{}{}{}",
                "   ".repeat(v.ancestors.len()),
                node_type(n),
                n.get("Index Name")
                    .and_then(Value::as_str)
                    .map(|i| format!(" using {i}"))
                    .unwrap_or_default(),
                n.get("Relation Name")
                    .and_then(Value::as_str)
                    .map(|r| format!(" on {r}"))
                    .unwrap_or_default(),
                match relationship(n) {
                    "SubPlan" | "InitPlan" => format!(" [{}]", relationship(n)),
                    _ => String::new(),
                },
                [
                    "Index Cond",
                    "Filter",
                    "Join Filter",
                    "Sort Key",
                    "Presorted Key",
                    "Recheck Cond",
                ]
                .iter()
                .filter_map(|k| n.get(*k).map(|c| format!(" {k}: {c}")))
                .collect::<String>(),
            );
        }
        out
    }

    /// No sequential scan anywhere: every table is reached through an index.
    pub fn no_seq_scan(&self) -> Result<(), String> {
        match self
            .visits()
            .iter()
            .find(|v| node_type(v.node) == "Seq Scan")
        {
            Some(v) => Err(format!(
                "a sequential scan on {}",
                v.node
                    .get("Relation Name")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
            )),
            None => Ok(()),
        }
    }

    /// No correlated subquery runs below a `Limit` on rows that no `Limit` has bounded yet: one
    /// that does is evaluated for every row the limited scan reads (the whole match set), not for
    /// the rows returned. A subquery of a node above the page's `Limit` (whose input is the
    /// limited page) is fine, and init plans run once and are allowed anywhere.
    pub fn no_subplan_below_limit(&self) -> Result<(), String> {
        let visits = self.visits();
        for v in &visits {
            if relationship(v.node) != "SubPlan" {
                continue;
            }
            let Some(host) = v.ancestors.last() else {
                continue;
            };
            let host_depth = v.ancestors.len() - 1;
            let limited_above = v.ancestors.iter().any(|a| node_type(a) == "Limit");
            let limited_input = visits.iter().any(|d| {
                node_type(d.node) == "Limit"
                    && d.ancestors
                        .get(host_depth)
                        .is_some_and(|a| std::ptr::eq(*a, *host))
                    && !d.ancestors[host_depth..]
                        .iter()
                        .chain(std::iter::once(&d.node))
                        .any(|a| matches!(relationship(a), "SubPlan" | "InitPlan"))
            });
            if limited_above && !limited_input {
                return Err("a per-row subquery below a Limit, on rows not yet limited".into());
            }
        }
        Ok(())
    }

    /// The rows come from a `Limit` over an index read: in the list's order, or through a
    /// selective filter's index with a small sort ([`SMALL_SORT`]); never a sort of a large
    /// match set. (The count's own `Limit`, under its `Aggregate`, does not count.)
    pub fn ordered_limit(&self) -> Result<(), String> {
        let visits = self.visits();
        let row_limits: Vec<&Visit<'_>> = visits
            .iter()
            .filter(|v| {
                node_type(v.node) == "Limit"
                    && !v.ancestors.iter().any(|a| node_type(a) == "Aggregate")
            })
            .collect();
        if row_limits.is_empty() {
            return Err("no Limit over the rows".into());
        }
        for limit in row_limits {
            let below: Vec<&Visit<'_>> = visits
                .iter()
                .filter(|v| v.ancestors.iter().any(|a| std::ptr::eq(*a, limit.node)))
                .filter(|v| {
                    !v.ancestors
                        .iter()
                        .chain(std::iter::once(&v.node))
                        .any(|a| matches!(relationship(a), "SubPlan" | "InitPlan"))
                })
                .collect();
            if below.iter().any(|v| is_large_sort(v.node)) {
                return Err(format!(
                    "more than {SMALL_SORT} rows are sorted below the Limit"
                ));
            }
            if !below.iter().any(|v| is_index_read(v.node)) {
                return Err("no index read below the Limit".into());
            }
        }
        Ok(())
    }

    /// A `Limit` bounds the rows read (for a capped count).
    pub fn limited(&self) -> Result<(), String> {
        if self.visits().iter().any(|v| node_type(v.node) == "Limit") {
            Ok(())
        } else {
            Err("nothing bounds the rows read".into())
        }
    }

    /// Some index read has one of `columns` in its index condition: the filter bounds the rows
    /// read instead of being checked on each row of a wider range.
    pub fn index_cond_on_any(&self, columns: &[&str]) -> Result<(), String> {
        let bound = self.visits().iter().any(|v| {
            v.node
                .get("Index Cond")
                .and_then(Value::as_str)
                .is_some_and(|c| columns.iter().any(|col| c.contains(col)))
        });
        if bound {
            Ok(())
        } else {
            Err(format!("none of {columns:?} is an index condition"))
        }
    }

    /// Some node reads `index`.
    pub fn uses_index(&self, index: &str) -> Result<(), String> {
        let used = self.visits().iter().any(|v| {
            v.node
                .get("Index Name")
                .and_then(Value::as_str)
                .is_some_and(|i| i == index)
        });
        if used {
            Ok(())
        } else {
            Err(format!("{index} is not used"))
        }
    }
}

/// What a guard checks of one plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// [`Plan::no_seq_scan`].
    NoSeqScan,
    /// [`Plan::no_subplan_below_limit`].
    NoSubplanBelowLimit,
    /// [`Plan::ordered_limit`].
    OrderedLimit,
    /// [`Plan::limited`].
    Limited,
}

/// Checks of an offset page or keyset page statement whose shape can be read in order.
pub const ORDERED_PAGE: &[Check] = &[
    Check::NoSeqScan,
    Check::NoSubplanBelowLimit,
    Check::OrderedLimit,
];
/// Checks of a page statement whose filter is served by an index that has no order (a trigram
/// search): its matches are sorted, so only the scans and the subqueries are checked.
pub const UNORDERED_PAGE: &[Check] = &[Check::NoSeqScan, Check::NoSubplanBelowLimit];
/// Checks of a capped count.
pub const CAPPED_COUNT: &[Check] = &[Check::NoSeqScan, Check::NoSubplanBelowLimit, Check::Limited];

/// The failures of every plan a guard checked; [`Failures::assert_none`] reports them all at once.
#[derive(Default)]
pub struct Failures {
    failed: Vec<String>,
    checked: usize,
}

impl Failures {
    /// Runs `checks` on `plan`, recording each failure with the plan's outline.
    pub fn check(&mut self, plan: &Plan, checks: &[Check]) {
        self.checked += 1;
        for check in checks {
            let result = match check {
                Check::NoSeqScan => plan.no_seq_scan(),
                Check::NoSubplanBelowLimit => plan.no_subplan_below_limit(),
                Check::OrderedLimit => plan.ordered_limit(),
                Check::Limited => plan.limited(),
            };
            if let Err(e) = result {
                self.failed.push(format!("{e}: {}", plan.outline()));
            }
        }
    }

    /// Records `result` of an extra check of `plan`.
    pub fn expect(&mut self, plan: &Plan, result: Result<(), String>) {
        if let Err(e) = result {
            self.failed.push(format!("{e}: {}", plan.outline()));
        }
    }

    /// Fails with every recorded failure.
    pub fn assert_none(&self, what: &str) {
        assert!(
            self.failed.is_empty(),
            "{} of {} plans of {what} failed:\n\n{}",
            self.failed.len(),
            self.checked,
            self.failed.join("\n\n")
        );
        eprintln!("list_plans: {} plans of {what} pass", self.checked);
    }
}

#[tokio::test]
async fn the_scale_database_holds_a_million_rows_in_a_tenant_per_large_list() -> crate::TestResult {
    let scale = scale().await;
    let admin = scale.client().await?;
    for (table, tenant, at_least) in [
        ("human_users", Some(BIG), i64::from(MILLION)),
        ("human_users", Some(SMALL), 1_000),
        ("audit_events", Some(BIG), i64::from(MILLION)),
        ("approval_requests", Some(BIG), i64::from(MILLION)),
        ("workloads", Some(BIG), 100_000),
        ("integrations", Some(BIG), 100_000),
        ("admin_identities", None, i64::from(ADMINS)),
        ("admin_access_requests", None, i64::from(ADMINS)),
    ] {
        let n: i64 = match tenant {
            Some(t) => admin
                .query_one(
                    &format!("SELECT count(*) FROM {table} WHERE tenant_id = $1"),
                    &[&t],
                )
                .await?
                .get(0),
            None => admin
                .query_one(&format!("SELECT count(*) FROM {table}"), &[])
                .await?
                .get(0),
        };
        assert_eq!(n, at_least, "{table} of {tenant:?}");
    }
    eprintln!(
        "list_plans: the scale database took {:.1?} to seed",
        scale.seeded_in
    );
    Ok(())
}
