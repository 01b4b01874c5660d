//! `brokerdb bench --soak` in CI mode: a few seconds at a low rate through the real service,
//! checking what the run reports (no error, connections within the pools) and what it writes (the
//! CSV's columns and rows, the SVG chart). Bounds only, never timings.

use crate::TestResult;
use crate::bench_report::check_well_formed_svg;
use crate::support::{brokerdb, run};

/// The CSV's columns, in order.
const COLUMNS: [&str; 9] = [
    "elapsed_s",
    "requests",
    "errors",
    "p50_ms",
    "p99_ms",
    "rss_mib",
    "pg_connections",
    "pg_active",
    "redis_connections",
];
/// Both PostgreSQL pools of the soak (`serve`'s default of 16 each).
const PG_BOUND: f64 = 32.0;
/// The adapters' Redis pool (4) plus the read cache's two subscriptions and two re-dials.
const REDIS_BOUND: f64 = 8.0;

#[tokio::test]
async fn a_short_soak_has_no_errors_bounded_connections_and_writes_its_series_and_chart()
-> TestResult {
    let db = brokerdb_testkit::database().await;
    let dir = tempfile::tempdir()?;
    let (csv, svg) = (
        dir.path().join("out/soak.csv"),
        dir.path().join("out/soak.svg"),
    );
    // No REDIS_URL: a private redis-server, so its client count is this run's alone.
    let out = run(brokerdb()
        .args([
            "bench",
            "--soak",
            "6s",
            "--rate",
            "20/s",
            "--sample-every",
            "2s",
        ])
        .args(["--users", "200", "--database-url", &db.admin_url()])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--soak-csv")
        .arg(&csv)
        .arg("--soak-svg")
        .arg(&svg)
        .env("RUST_LOG", "warn"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(" errors: ok"), "{stdout}");
    assert!(stdout.contains("soak: start ("), "{stdout}");
    assert!(stdout.contains("soak: end ("), "{stdout}");

    let text = std::fs::read_to_string(&csv)?;
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(COLUMNS.join(",").as_str()));
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|v| v.parse::<f64>()).collect())
        .collect::<Result<_, _>>()?;
    // One row per 2 s of 6 s.
    assert_eq!(rows.len(), 3, "{text}");
    let col = |name: &str| {
        COLUMNS
            .iter()
            .position(|c| *c == name)
            .unwrap_or(usize::MAX)
    };
    let mut requests = 0.0;
    for row in &rows {
        assert_eq!(row.len(), COLUMNS.len(), "{text}");
        requests += row[col("requests")];
        assert_eq!(row[col("errors")], 0.0, "{text}");
        assert!(row[col("p50_ms")] <= row[col("p99_ms")], "{text}");
        assert!(row[col("rss_mib")] > 0.0, "{text}");
        assert!(row[col("pg_connections")] >= 1.0, "{text}");
        assert!(row[col("pg_connections")] <= PG_BOUND, "{text}");
        assert!(
            row[col("pg_active")] <= row[col("pg_connections")],
            "{text}"
        );
        assert!(row[col("redis_connections")] >= 1.0, "{text}");
        assert!(row[col("redis_connections")] <= REDIS_BOUND, "{text}");
    }
    // 20/s for 6 s: every due request was sent and answered.
    assert_eq!(requests, 120.0, "{text}");
    let elapsed: Vec<f64> = rows.iter().map(|r| r[col("elapsed_s")]).collect();
    assert!(elapsed.windows(2).all(|w| w[0] < w[1]), "{text}");

    let chart = std::fs::read_to_string(&svg)?;
    check_well_formed_svg(&chart)?;
    for label in [
        "latency per interval",
        "resident set size",
        "open connections",
        "p99",
    ] {
        assert!(chart.contains(label), "the chart lacks {label}");
    }
    Ok(())
}
