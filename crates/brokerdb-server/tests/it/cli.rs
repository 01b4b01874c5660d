//! The `brokerdb` binary as a user runs it.

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::Duration;

use brokerdb_testkit::{empty_database, redis};

use crate::TestResult;
use crate::support::{Served, brokerdb, error_lines, free_port, http_get, run};

#[test]
fn every_command_has_help_naming_its_environment_variables() -> TestResult {
    for (args, expect) in [
        (&["--help"][..], "serve"),
        (&["serve", "--help"][..], "[env: DATABASE_URL"),
        (&["serve", "--help"][..], "[env: REDIS_URL"),
        (&["serve", "--help"][..], "[env: BROKERDB_LISTEN"),
        (&["migrate", "--help"][..], "[env: BROKERDB_DATA_DIR"),
        (
            &["migrate", "status", "--help"][..],
            "exits 1 when an applied migration has changed",
        ),
        (&["bench", "--help"][..], "[env: BENCH_CONCURRENCY"),
        (&["bench", "--help"][..], "--report <DIR>"),
        (&["bench", "--help"][..], "[env: BENCH_LIST_USERS"),
        (&["audit", "--help"][..], "verify"),
        (&["serve", "--help"][..], "[env: SLOW_QUERY_MS"),
        (&["serve", "--help"][..], "[env: DB_TRACE"),
    ] {
        let out = run(brokerdb().args(args))?;
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?} failed");
        assert!(
            text.contains(expect),
            "{args:?}: {expect:?} not in help:\n{text}"
        );
    }
    Ok(())
}

/// Asserts the command failed with exactly one `error:` line starting with `prefix` and no panic.
fn assert_one_error(
    out: &std::process::Output,
    prefix: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    let (errors, panicked) = error_lines(out);
    assert!(!out.status.success(), "command succeeded");
    assert!(
        !panicked,
        "panicked: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(errors.len(), 1, "error lines: {errors:?}");
    assert!(
        errors[0].starts_with(prefix),
        "{:?} does not start with {prefix:?}",
        errors[0]
    );
    Ok(errors[0].clone())
}

#[tokio::test]
async fn an_unreachable_database_is_one_clear_error() -> TestResult {
    let r = redis().await;
    let out = run(brokerdb()
        .args(["serve", "--listen", "127.0.0.1:0", "--redis-url", r.url()])
        .env(
            "DATABASE_URL",
            "postgres://postgres:s3cret@127.0.0.1:1/brokerdb",
        ))?;
    let line = assert_one_error(
        &out,
        "error: cannot connect to PostgreSQL as brokerdb_app@127.0.0.1:1/brokerdb",
    )?;
    assert!(!line.contains("s3cret"), "{line}");
    Ok(())
}

#[tokio::test]
async fn a_malformed_redis_url_is_one_clear_error_that_does_not_echo_it() -> TestResult {
    let db = empty_database().await;
    let out = run(brokerdb()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &db.admin_url(),
        ])
        .env("REDIS_URL", "redis://:s3cret@127.0.0.1:notaport"))?;
    let line = assert_one_error(&out, "error: REDIS_URL is not a valid Redis URL")?;
    assert!(!line.contains("s3cret"), "{line}");
    Ok(())
}

#[tokio::test]
async fn a_taken_port_is_one_clear_error() -> TestResult {
    let db = brokerdb_testkit::database().await;
    let r = redis().await;
    let taken = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    let addr = taken.local_addr()?.to_string();
    let out = run(brokerdb().args([
        "serve",
        "--listen",
        &addr,
        "--database-url",
        &db.admin_url(),
        "--redis-url",
        r.url(),
    ]))?;
    assert_one_error(
        &out,
        &format!("error: cannot listen on {addr}: Address already in use"),
    )?;
    Ok(())
}

#[tokio::test]
async fn migrate_applies_pending_migrations_and_status_lists_them() -> TestResult {
    let db = empty_database().await;
    let url = db.admin_url();
    let total: usize = brokerdb_server::schema::migration_sets()
        .iter()
        .map(|s| s.migrations.len())
        .sum();

    let out = run(brokerdb().args(["migrate", "status", "--database-url", &url]))?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert_eq!(
        text.lines().filter(|l| l.contains(" pending ")).count(),
        total,
        "{text}"
    );
    assert!(
        text.ends_with(&format!("0 applied, {total} pending\n")),
        "{text}"
    );

    let out = run(brokerdb().args(["migrate", "--database-url", &url]))?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("applied  0001_roles_and_extensions"),
        "{text}"
    );
    assert!(
        text.ends_with(&format!(
            "database is up to date: {total} migrations applied ({total} now)\n"
        )),
        "{text}"
    );

    let out = run(brokerdb().args(["migrate", "--database-url", &url]))?;
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("(0 now)\n"));
    Ok(())
}

#[tokio::test]
async fn migrate_refuses_a_changed_migration_with_one_clear_error() -> TestResult {
    let db = empty_database().await;
    let url = db.admin_url();
    assert!(
        run(brokerdb().args(["migrate", "--database-url", &url]))?
            .status
            .success()
    );
    db.admin()
        .await
        .execute(
            "UPDATE brokerdb_schema_migrations SET checksum = 'abc' WHERE version = 2",
            &[],
        )
        .await?;

    let out = run(brokerdb().args(["migrate", "--database-url", &url]))?;
    let label = brokerdb::migrate::embedded()[1].label();
    assert_one_error(
        &out,
        &format!(
            "error: migration {label} was applied with checksum abc but this build embeds checksum"
        ),
    )?;

    let out = run(brokerdb().args(["migrate", "status", "--database-url", &url]))?;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains(" CHANGED "));
    Ok(())
}

#[test]
fn serve_without_urls_runs_on_embedded_servers_and_reuses_their_data() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    let data_dir = dir.path().join("data");
    let start = || -> Result<Served, Box<dyn std::error::Error>> {
        let port = free_port()?;
        let child = brokerdb()
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(&data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        Ok(Served { child, port })
    };

    let mut first = start()?;
    let (status, body) = first.wait_ready(Duration::from_secs(120))?;
    assert_eq!(status, 200, "{body}");
    let ready: serde_json::Value = serde_json::from_str(&body)?;
    assert_eq!(ready["status"], "ok");
    let total: usize = brokerdb_server::schema::migration_sets()
        .iter()
        .map(|s| s.migrations.len())
        .sum();
    assert_eq!(ready["migrations"]["applied"], total);
    assert_eq!(http_get(first.port, "/healthz")?.0, 200);

    // A worker on the same data directory shares serve's servers, and leaves them running.
    let metrics_port = free_port()?;
    let child = brokerdb()
        .args([
            "worker",
            "--metrics-listen",
            &format!("127.0.0.1:{metrics_port}"),
        ])
        .arg("--data-dir")
        .arg(&data_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let worker = Served {
        child,
        port: metrics_port,
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !http_get(metrics_port, "/metrics").is_ok_and(|(code, _)| code == 200) {
        assert!(
            std::time::Instant::now() < deadline,
            "the worker did not come up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (exit, stderr) = worker.terminate()?;
    assert!(exit.success(), "{exit}: {stderr}");
    for shared in [
        "using the embedded PostgreSQL another brokerdb process runs",
        "using the embedded Redis another brokerdb process runs",
        "outbox relay started",
    ] {
        assert!(stderr.contains(shared), "{shared}: {stderr}");
    }
    let (status, body) = first.wait_ready(Duration::from_secs(5))?;
    assert_eq!(status, 200, "serve lost a server to the worker: {body}");

    let (exit, stderr) = first.terminate()?;
    assert!(exit.success(), "{exit}: {stderr}");
    assert!(
        !data_dir.join("postgres/postmaster.pid").exists(),
        "PostgreSQL left running: {stderr}"
    );

    let mut second = start()?;
    let (status, body) = second.wait_ready(Duration::from_secs(120))?;
    assert_eq!(status, 200, "{body}");
    let (exit, stderr) = second.terminate()?;
    assert!(exit.success(), "{exit}: {stderr}");
    assert!(
        stderr.contains("reused=true"),
        "the second start did not reuse the cluster: {stderr}"
    );
    assert!(
        stderr.contains("applied=0"),
        "the second start re-applied migrations: {stderr}"
    );
    Ok(())
}

#[tokio::test]
async fn bench_prints_library_and_pgbench_rows_with_ratios() -> TestResult {
    let db = brokerdb_testkit::database().await;
    let out = run(brokerdb()
        .args([
            "bench",
            "--only",
            "postgres",
            "--users",
            "200",
            "--list-users",
            "500",
            "--matrix-calls",
            "1",
            "--seconds",
            "1",
            "--concurrency",
            "1,2",
            "--database-url",
            &db.admin_url(),
        ])
        .env("RUST_LOG", "warn"))?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    // The first table (the users-list matrix follows it).
    let rows: Vec<&str> = table
        .lines()
        .skip_while(|l| !l.starts_with("| operation"))
        .skip(2)
        .take_while(|l| l.starts_with("| "))
        .collect();
    assert_eq!(
        rows.len(),
        96,
        "(8 operations × 3 implementations + 2 unchained appends × 2 pgbench variants \
         + 4 users-list rows × 2 + 2 HTTP rows × 2 + 2 cache rows × 4) × 2 concurrencies:\n{table}"
    );
    for op in [
        "audit append (chained: sealed after commit)",
        "audit append (same INSERT, unchained copy)",
        "audit append × 16 tenants (chained: sealed after commit)",
        "audit query page",
        "enrollment token issue + consume",
        "users::list_after",
        "http GET /v1/users/{id}",
        "http GET /v1/users?pageSize=20",
        "cache: execute lookup",
        "cache: policy rules for scope",
    ] {
        assert!(
            rows.iter().any(|r| r.starts_with(&format!("| {op}"))),
            "{op} missing:\n{table}"
        );
    }
    for row in rows {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let ratio: f64 = cells[8].parse()?;
        let ops: f64 = cells[4].parse()?;
        assert!(ratio.is_finite() && ratio > 0.0 && ops > 0.0, "{row}");
    }
    assert!(
        table.contains("HTTP adds") && table.contains("to the library's p50 at 1 caller"),
        "no HTTP latency line:\n{table}"
    );
    Ok(())
}

#[tokio::test]
async fn bench_prints_redis_rows_against_raw_evalsha_and_redis_benchmark() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = run(brokerdb()
        .args([
            "bench",
            "--only",
            "redis",
            "--seconds",
            "1",
            "--concurrency",
            "2",
        ])
        .args(["--redis-pools", "2", "--data-dir"])
        .arg(dir.path())
        .env_remove("REDIS_URL")
        .env("RUST_LOG", "warn"))?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| operation"))
        .map(|l| l.split('|').map(str::trim).collect())
        .collect();
    assert_eq!(
        rows.len(),
        7,
        "3 operations × (adapter + raw) + redis-benchmark for the rate limit:\n{stdout}"
    );
    for row in &rows {
        let ops: f64 = row[4].parse()?;
        assert!(ops > 0.0, "{row:?}");
        if !row[3].starts_with("redis-benchmark") {
            let ratio: f64 = row[8].parse()?;
            assert!(ratio.is_finite() && ratio > 0.0, "{row:?}");
        }
    }
    assert!(
        stdout.contains("raw: redis-benchmark -s /"),
        "the embedded server is reached on its socket: {stdout}"
    );
    assert!(!stdout.contains("redis-benchmark -h"), "{stdout}");
    assert!(stdout.contains("/ redis-benchmark = "), "{stdout}");
    Ok(())
}

#[tokio::test]
async fn a_malformed_cursor_secret_is_one_clear_error() -> TestResult {
    let db = brokerdb_testkit::database().await;
    let r = redis().await;
    let out = run(brokerdb()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &db.admin_url(),
            "--redis-url",
            r.url(),
        ])
        .env("BROKERDB_CURSOR_SECRET", "not-hex-s3cret"))?;
    let line = assert_one_error(
        &out,
        "error: BROKERDB_CURSOR_SECRET must be 64 hex characters",
    )?;
    assert!(!line.contains("s3cret"));
    Ok(())
}
