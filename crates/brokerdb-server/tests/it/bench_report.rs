//! `brokerdb bench --report DIR`: the Markdown report and its SVG charts, at tiny sizes.

use crate::TestResult;
use crate::support::{brokerdb, run};

/// The operations the test selects, with their charts' file name stem.
const OPERATIONS: [(&str, &str); 8] = [
    ("point read (user by id)", "point-read-user-by-id"),
    (
        "users::list page 1 of 20 (no filter, newest first)",
        "users-list-page-1-of-20-no-filter-newest-first",
    ),
    (
        "users::list page 1 of 20 (enabled=true&role=admin, newest first)",
        "users-list-page-1-of-20-enabled-true-role-admin-newest-first",
    ),
    (
        "users::list page 1 of 50 (no filter, newest first)",
        "users-list-page-1-of-50-no-filter-newest-first",
    ),
    (
        "users::list_after 20 rows (keyset, random depth, newest first)",
        "users-list-after-20-rows-keyset-random-depth-newest-first",
    ),
    (
        "enrollment token issue + consume",
        "enrollment-token-issue-consume",
    ),
    (
        "audit append × 16 tenants (chained: sealed after commit)",
        "audit-append-16-tenants-chained-sealed-after-commit",
    ),
    (
        "audit append × 16 tenants (same INSERT, unchained copy)",
        "audit-append-16-tenants-same-insert-unchained-copy",
    ),
];

/// The cache rows the test selects (`cache`), with their charts' file name stem; each has an
/// uncached, a miss, an L2-hit and an L1-hit side.
const CACHE_OPERATIONS: [(&str, &str); 2] = [
    (
        "cache: execute lookup (workload + integration + template)",
        "cache-execute-lookup-workload-integration-template",
    ),
    (
        "cache: policy rules for scope (descriptor match)",
        "cache-policy-rules-for-scope-descriptor-match",
    ),
];
const CACHE_SIDES: [&str; 4] = [
    "uncached library call",
    "cache miss (busted before each read; bust not timed)",
    "L2 hit (Redis; L1 off)",
    "L1 hit (in process)",
];

/// Every tag opened is closed in order, the root is `<svg>`, and nothing but whitespace is
/// outside it (after an optional XML declaration).
pub(crate) fn check_well_formed_svg(svg: &str) -> Result<(), String> {
    let mut rest = svg.trim();
    let mut stack: Vec<&str> = Vec::new();
    let mut root = None;
    while let Some(start) = rest.find('<') {
        if stack.is_empty() && !rest[..start].trim().is_empty() {
            return Err(format!("text outside the root: {:?}", &rest[..start]));
        }
        let end = rest[start..]
            .find('>')
            .map(|e| start + e)
            .ok_or("a tag is not closed")?;
        let tag = &rest[start + 1..end];
        if tag.starts_with('?') || tag.starts_with('!') {
            // declaration or comment
        } else if let Some(name) = tag.strip_prefix('/') {
            match stack.pop() {
                Some(open) if open == name.trim() => {}
                other => return Err(format!("</{name}> closes {other:?}")),
            }
        } else {
            let name = tag
                .split(|c: char| c.is_whitespace() || c == '/')
                .next()
                .unwrap_or("");
            if stack.is_empty() {
                if root.is_some() {
                    return Err("more than one root element".into());
                }
                root = Some(name);
            }
            if !tag.ends_with('/') {
                stack.push(name);
            }
        }
        rest = &rest[end + 1..];
    }
    if !stack.is_empty() {
        return Err(format!("unclosed: {stack:?}"));
    }
    if !rest.trim().is_empty() {
        return Err("text after the root".into());
    }
    match root {
        Some("svg") => Ok(()),
        other => Err(format!("root is {other:?}, not svg")),
    }
}

#[tokio::test]
async fn bench_report_writes_every_measurement_the_matrix_and_labelled_charts() -> TestResult {
    let db = brokerdb_testkit::database().await;
    let redis = brokerdb_testkit::redis().await;
    let dir = tempfile::tempdir()?;
    let report_dir = dir.path().join("report");
    let out = run(brokerdb()
        .args(["bench", "--report"])
        .arg(&report_dir)
        .args([
            "--only",
            "point read,users::list,enrollment,audit append × 16,cache",
            "--users",
            "200",
            "--list-users",
            "2000",
            "--seconds",
            "1",
            "--concurrency",
            "1,2",
            "--matrix-calls",
            "2",
            "--database-url",
            &db.admin_url(),
            "--redis-url",
            redis.url(),
        ])
        .env("RUST_LOG", "warn"))?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(report_dir.join("report.md"))?;
    // Every operation × side × callers is a row of the measurements table.
    let sides = |op: &str| -> &[&str] {
        if op.starts_with("users::") {
            &[
                "brokerdb (library, tenant scope)",
                "tokio-postgres, same statements pipelined",
            ]
        } else if op.contains("unchained") {
            &[
                "pgbench, same statements pipelined",
                "pgbench, plain SELECT (no scope)",
            ]
        } else {
            &[
                "brokerdb (library, tenant scope)",
                "pgbench, same statements pipelined",
                "pgbench, plain SELECT (no scope)",
            ]
        }
    };
    for (op, _) in OPERATIONS {
        for side in sides(op) {
            for callers in [1, 2] {
                let row = format!("| {op} | {side} | {callers} | ");
                assert!(md.contains(&row), "no row {row}:\n{md}");
            }
        }
    }
    // The cache rows: every side at every callers, and their charts.
    for (op, stem) in CACHE_OPERATIONS {
        for side in CACHE_SIDES {
            for callers in [1, 2] {
                let row = format!("| {op} | {side} | {callers} | ");
                assert!(md.contains(&row), "no row {row}:\n{md}");
            }
        }
        for kind in ["throughput", "latency"] {
            let file = format!("{stem}.{kind}.svg");
            let svg = std::fs::read_to_string(report_dir.join(&file))?;
            check_well_formed_svg(&svg).map_err(|e| format!("{file}: {e}"))?;
            assert!(svg.contains(CACHE_SIDES[3]), "{file} lacks the L1 side");
        }
    }
    assert!(
        md.contains("| q | enabled | role | created | sort | total |"),
        "{md}"
    );
    let matrix_rows = md
        .lines()
        .filter(|l| l.starts_with("| user12345 |") || l.starts_with("| example |"))
        .count();
    assert_eq!(matrix_rows, 96, "8 filter sets with q × 2 values × 6 sorts");
    let without_q = md.lines().filter(|l| l.starts_with("| — |")).count();
    assert_eq!(without_q, 48, "8 filter sets without q × 6 sorts");
    assert!(
        md.contains("seed 001 Get User by ID: median ≤ 50 ms"),
        "{md}"
    );
    for (op, stem) in OPERATIONS {
        for (kind, y_label) in [
            ("throughput", "throughput (operations/s)"),
            ("latency", "latency (ms, log scale)"),
        ] {
            let file = format!("{stem}.{kind}.svg");
            assert!(md.contains(&format!("]({file})")), "{file} not linked");
            let svg = std::fs::read_to_string(report_dir.join(&file))?;
            check_well_formed_svg(&svg).map_err(|e| format!("{file}: {e}"))?;
            for text in ["concurrent callers", y_label, sides(op)[0], op] {
                let escaped = text.replace('&', "&amp;");
                assert!(svg.contains(&escaped), "{file} lacks the text {text:?}");
            }
        }
    }
    let latency =
        |stem: &str| std::fs::read_to_string(report_dir.join(format!("{stem}.latency.svg")));
    let get_user = latency("point-read-user-by-id")?;
    assert!(get_user.contains("seed 001 Get User by ID: median ≤ 50 ms"));
    assert!(get_user.contains("seed 001 Get User by ID: p95 ≤ 100 ms"));
    let page = latency("users-list-page-1-of-20-no-filter-newest-first")?;
    assert!(page.contains("seed 001 List Users (20 rows): median ≤ 200 ms"));
    assert!(page.contains("at-scale goal: users list page 1: p95 ≤ 50 ms"));
    let page50 = latency("users-list-page-1-of-50-no-filter-newest-first")?;
    assert!(page50.contains("seed 001 List Users (50 rows): p95 ≤ 800 ms"));
    let keyset = latency("users-list-after-20-rows-keyset-random-depth-newest-first")?;
    assert!(keyset.contains("at-scale goal: keyset page, any depth: median ≤ 5 ms"));
    let audit = latency("audit-append-16-tenants-chained-sealed-after-commit")?;
    assert!(audit.contains("seed 001 Audit Write: median ≤ 30 ms"));
    Ok(())
}

/// The project-store rows (`--only projects`), at tiny sizes: every row at 1 and 2 callers,
/// the library side with a ratio to its raw reference, the raw side at 1.00.
#[tokio::test]
async fn bench_projects_rows_pair_each_call_with_the_same_statement_raw() -> TestResult {
    let db = brokerdb_testkit::database().await;
    let redis = brokerdb_testkit::redis().await;
    let out = run(brokerdb()
        .args([
            "bench",
            "--only",
            "projects",
            "--users",
            "200",
            "--seconds",
            "1",
            "--concurrency",
            "1,2",
            "--database-url",
            &db.admin_url(),
            "--redis-url",
            redis.url(),
        ])
        .env("RUST_LOG", "warn"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = [
        (
            "projects: MCP log append (one tool call)",
            "brokerdb-projects (library, tenant scope)",
            "tokio-postgres, same statements pipelined",
        ),
        (
            "projects: MCP token bucket try_acquire (one EVALSHA)",
            "brokerdb-projects limiter (adapter pool)",
            "raw redis-rs, same EVALSHA",
        ),
        (
            "projects: webhook intake (verify + dedupe insert + enqueue scan)",
            "brokerdb-projects (library, tenant scope)",
            "tokio-postgres, same statements pipelined",
        ),
    ];
    for (op, library, raw) in rows {
        for callers in [1, 2] {
            let cells = |side: &str| -> Option<Vec<String>> {
                stdout
                    .lines()
                    .find(|l| l.starts_with(&format!("| {op} | {callers} | {side} | ")))
                    .map(|l| l.split('|').map(|c| c.trim().to_owned()).collect())
            };
            let lib =
                cells(library).ok_or(format!("no {library} row {op} × {callers}:\n{stdout}"))?;
            let raw_row = cells(raw).ok_or(format!("no {raw} row {op} × {callers}:\n{stdout}"))?;
            // | op | callers | implementation | ops/s | p50 | p95 | p99 | ratio |
            let ops: f64 = lib[4].parse()?;
            assert!(ops > 0.0, "{op} × {callers}: no call measured:\n{stdout}");
            let ratio: f64 = lib[8].parse()?;
            assert!(ratio > 0.0, "{op} × {callers}: ratio {ratio}:\n{stdout}");
            assert_eq!(
                raw_row[8], "1.00",
                "{op} × {callers}: the raw side is the reference"
            );
        }
    }
    assert!(
        !stdout.contains("users::list"),
        "--only projects runs only its rows:\n{stdout}"
    );
    Ok(())
}
