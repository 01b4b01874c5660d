//! `--report DIR`: `DIR/report.md` (the run, the budgets met or not, every measurement, the
//! users-list matrix) and two SVG charts per operation (see [`super::charts`]).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use super::BenchConfig;
use super::budgets::{self, Budget};
use super::charts;
use super::stats::{self, Measurement};
use super::users_list::{self, MatrixRow};

/// What the report says about the run itself.
pub struct Run<'a> {
    /// The checked options.
    pub config: &'a BenchConfig,
    /// How long the whole run took.
    pub elapsed: Duration,
}

/// The file name stem of an operation's charts: lower-case ASCII words joined by `-`.
pub fn slug(operation: &str) -> String {
    let mut out = String::new();
    for c in operation.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// The operations of `rows`, in first-seen order.
fn operations(rows: &[Measurement]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in rows {
        if !out.contains(&r.operation) {
            out.push(r.operation);
        }
    }
    out
}

/// How many charts [`write`] draws for `rows`.
pub fn chart_count(rows: &[Measurement]) -> usize {
    operations(rows).len() * 2
}

fn ms(d: Duration) -> String {
    let v = d.as_secs_f64() * 1000.0;
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Whether a row is the library's side (the budgets are the library's).
fn is_library(m: &Measurement) -> bool {
    m.implementation.starts_with("brokerdb")
}

/// Writes the report and the charts into `dir` (created before the run); returns report.md's
/// path.
pub fn write(
    dir: &Path,
    run: &Run<'_>,
    rows: &[Measurement],
    matrix: &[MatrixRow],
    notes: &[String],
) -> anyhow::Result<PathBuf> {
    let mut md = String::new();
    header(&mut md, run);
    budget_section(&mut md, rows, matrix);
    md.push_str("## Every measurement\n\n");
    md.push_str(
        "Throughput in operations per second; latencies in milliseconds over every call of the \
         run; *ratio* is the row's throughput divided by its raw reference's (the row marked \
         1.00) at the same callers: below 1 the library is slower than the same statements sent \
         raw.\n\n",
    );
    md.push_str(&measurements_table(rows));
    md.push('\n');
    if !matrix.is_empty() {
        let _ = writeln!(
            md,
            "## users::list at {} users: every filter × sort, page 1 of 20, 1 caller\n",
            run.config.list_users
        );
        let _ = writeln!(
            md,
            "Each shape: 3 warm-up calls per side, then {} calls per side, library and raw \
             alternating. q is `{}` (rare: 11 users at a million) or `{}` (every user); enabled \
             is `true`; role is `admin`; created is [{}, {}). *total* is the library page's \
             total (`~` marks the planner's estimate beyond the exact-count limit). The goal \
             columns check the library against the at-scale goal (median ≤ 20 ms, p95 ≤ 50 ms).\n",
            run.config.matrix_calls,
            users_list::Q_VALUES[0],
            users_list::Q_VALUES[1],
            users_list::CREATED_RANGE.0,
            users_list::CREATED_RANGE.1,
        );
        md.push_str(&matrix_table(matrix));
        md.push('\n');
    }
    md.push_str("## Charts\n\n");
    md.push_str(
        "Per operation: throughput against concurrent callers, and p50 (solid) and p99 (dashed) \
         latency against callers on a log scale, one colour per side (the library, and the raw \
         reference: pgbench running the same statements, or tokio-postgres sending them for the \
         users-list rows). Dashed horizontal lines are the budgets of that operation.\n\n",
    );
    for op in operations(rows) {
        let of_op: Vec<&Measurement> = rows.iter().filter(|m| m.operation == op).collect();
        let stem = slug(op);
        let (tp, lat) = (
            format!("{stem}.throughput.svg"),
            format!("{stem}.latency.svg"),
        );
        charts::throughput(&dir.join(&tp), op, &of_op).with_context(|| format!("chart {tp}"))?;
        charts::latency(&dir.join(&lat), op, &of_op, &budgets::for_operation(op))
            .with_context(|| format!("chart {lat}"))?;
        let _ = writeln!(md, "### {op}\n\n![throughput]({tp})\n![latency]({lat})\n");
    }
    if !notes.is_empty() {
        md.push_str("## Notes\n\n");
        for n in notes {
            let _ = writeln!(md, "- {n}");
        }
        md.push('\n');
    }
    let path = dir.join("report.md");
    std::fs::write(&path, md).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

fn header(md: &mut String, run: &Run<'_>) {
    let c = run.config;
    let callers: Vec<String> = c.concurrency.iter().map(u16::to_string).collect();
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZeroUsize::get);
    let _ = writeln!(
        md,
        "# brokerdb bench report\n\n\
         Run {} (UTC), {:.0} s in all, on {cores} cores: `brokerdb bench --users {} --list-users {} \
         --seconds {} --concurrency {} --matrix-calls {}{}`.\n\n\
         Each PostgreSQL row alternates one-second slices of the library and of its raw \
         reference(s), {} one-second slice(s) each after a warm-up, so load from other \
         processes hits both alike.\n",
        brokerdb::model::Timestamp::now(),
        run.elapsed.as_secs_f64(),
        c.users,
        c.list_users,
        c.seconds,
        callers.join(","),
        c.matrix_calls,
        if c.only.is_empty() {
            String::new()
        } else {
            format!(" --only {}", c.only.join(","))
        },
        c.seconds,
    );
}

/// The budgets, each against the library rows it budgets.
fn budget_section(md: &mut String, rows: &[Measurement], matrix: &[MatrixRow]) {
    md.push_str("## Budgets\n\n");
    md.push_str(
        "Seed 001's performance budgets and the at-scale goals, against the library's rows (the \
         latency charts draw them as horizontal lines).\n\n\
         | operation | budget | library, by callers (ms) | met at every measured callers |\n\
         |---|---|---|---|\n",
    );
    let mut any = false;
    for op in operations(rows) {
        let library: Vec<&Measurement> = rows
            .iter()
            .filter(|m| m.operation == op && is_library(m))
            .collect();
        let budgets = budgets::for_operation(op);
        if library.is_empty() {
            continue;
        }
        for b in budgets {
            any = true;
            let values: Vec<String> = library
                .iter()
                .map(|m| format!("{}: {}", m.callers, ms(b.statistic.of(m))))
                .collect();
            let met = library.iter().all(|m| b.met_by(m));
            let _ = writeln!(
                md,
                "| {op} | {} | {} | {} |",
                b.label(),
                values.join(", "),
                yes_no(met)
            );
        }
    }
    if !matrix.is_empty() {
        any = true;
        for b in budgets::LIST_PAGE_GOAL {
            let met = matrix.iter().filter(|r| b.met_by(&r.library)).count();
            let worst = matrix
                .iter()
                .map(|r| b.statistic.of(&r.library))
                .max()
                .unwrap_or_default();
            let _ = writeln!(
                md,
                "| {} | {} | worst shape: {} | {} ({met} of {} shapes) |",
                users_list::MATRIX,
                b.label(),
                ms(worst),
                yes_no(met == matrix.len()),
                matrix.len()
            );
        }
    }
    if !any {
        md.push_str("| (no budgeted operation measured) | | | |\n");
    }
    md.push_str("\nEvery budget:\n\n");
    for (applies, b) in budgets::all() {
        let _ = writeln!(md, "- {} — on {applies}", b.label());
    }
    md.push('\n');
}

fn yes_no(met: bool) -> &'static str {
    if met { "yes" } else { "**no**" }
}

/// Every measurement in milliseconds.
pub fn measurements_table(rows: &[Measurement]) -> String {
    let mut out = String::from(
        "| operation | side | callers | ops/s | p50 ms | p95 ms | p99 ms | ratio library/raw (ops/s) |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} |",
            r.operation,
            r.implementation,
            r.callers,
            r.throughput,
            ms(r.p50),
            ms(r.p95),
            ms(r.p99),
            stats::ratio(r.throughput, stats::raw_throughput(rows, r)),
        );
    }
    out
}

/// The users-list matrix as a Markdown table.
pub fn matrix_table(matrix: &[MatrixRow]) -> String {
    let [median, p95]: [Budget; 2] = budgets::LIST_PAGE_GOAL;
    let mut out = format!(
        "| q | enabled | role | created | sort | total | library p50 ms | library p95 ms | raw p50 ms | raw p95 ms | median ≤ {} ms | p95 ≤ {} ms |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|\n",
        median.ms, p95.ms
    );
    for r in matrix {
        let s = &r.shape;
        let dash = |on: bool, v: &str| if on { v.to_owned() } else { "—".to_owned() };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {}{} | {} | {} | {} | {} | {} | {} |",
            s.q.unwrap_or("—"),
            dash(s.enabled, "true"),
            dash(s.role, "admin"),
            dash(s.created, "March 2024"),
            s.sort_label(),
            if r.total.1 { "~" } else { "" },
            r.total.0,
            ms(r.library.p50),
            ms(r.library.p95),
            ms(r.raw.p50),
            ms(r.raw.p95),
            yes_no(median.met_by(&r.library)),
            yes_no(p95.met_by(&r.library)),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_file_names() {
        assert_eq!(
            slug("users::list page 1 of 20 (enabled=true&role=admin, newest first)"),
            "users-list-page-1-of-20-enabled-true-role-admin-newest-first"
        );
        assert_eq!(
            slug("audit append × 16 tenants (same INSERT, unchained copy)"),
            "audit-append-16-tenants-same-insert-unchained-copy"
        );
    }
}
