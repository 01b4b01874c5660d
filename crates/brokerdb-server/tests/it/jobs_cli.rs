//! `brokerdb jobs list / retry / purge`, `brokerdb worker`, and the worker `serve` runs, as a
//! user runs them.

use std::process::{Output, Stdio};
use std::time::Duration;

use brokerdb::db::Db;
use brokerdb::jobs::{self, Backoff, JobError, JobId, JobStatus, NewJob};
use brokerdb::model::{NonEmptyString, SessionId, TenantId, Timestamp, TokenHash};
use brokerdb::repo::sessions::{self, SessionRecord};
use brokerdb::repo::workloads::{self, EnrollmentMode, WorkloadCreateRequest};
use brokerdb_testkit::{TestDatabase, database, redis};
use serde_json::json;

use crate::TestResult;
use crate::support::{Served, brokerdb, error_lines, free_port, run};

type Error = Box<dyn std::error::Error>;

/// Enqueues a job of `queue` and takes it to `status` through the library.
async fn job_in(db: &Db, queue: &str, status: JobStatus) -> Result<JobId, Error> {
    let new = NewJob::new(queue, "work", json!({})).with_max_attempts(1);
    let id = jobs::enqueue(&mut db.system(), &new).await?.job.id;
    if status == JobStatus::Queued {
        return Ok(id);
    }
    let claimed = jobs::claim(&mut db.system(), queue, 1, Duration::from_secs(60)).await?;
    let lease = &claimed.first().ok_or("nothing claimed")?.lease;
    match status {
        JobStatus::Succeeded => jobs::complete(&mut db.system(), lease).await?,
        JobStatus::Dead => {
            let error = JobError::new("upstream answered 503");
            jobs::fail(&mut db.system(), lease, &error, &Backoff::default()).await?;
        }
        _ => {}
    }
    Ok(id)
}

async fn status(db: &Db, id: JobId) -> Result<JobStatus, Error> {
    Ok(jobs::get(&mut db.system(), id)
        .await?
        .ok_or("job missing")?
        .status)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `brokerdb jobs <args> --database-url <db>`.
fn jobs_cmd(test_db: &TestDatabase, args: &[&str]) -> std::io::Result<Output> {
    run(brokerdb()
        .arg("jobs")
        .args(args)
        .args(["--database-url", &test_db.admin_url()]))
}

/// Asserts the command failed with `code` and exactly one `error:` line containing `text`, no
/// panic.
fn assert_refused(out: &Output, code: i32, text: &str) {
    let (errors, panicked) = error_lines(out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert!(!panicked, "{stderr}");
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains(text), "{:?} lacks {text:?}", errors[0]);
}

#[test]
fn the_job_commands_have_help_naming_their_flags_and_variables() -> TestResult {
    for (args, expect) in [
        (&["--help"][..], "worker"),
        (&["--help"][..], "jobs"),
        (&["worker", "--help"][..], "[env: SWEEP_INTERVAL"),
        (&["worker", "--help"][..], "[env: SWEEP_BATCH_SIZE"),
        (&["worker", "--help"][..], "[env: WORKER_CONCURRENCY"),
        (&["worker", "--help"][..], "[env: JOB_VISIBILITY_TIMEOUT"),
        (&["worker", "--help"][..], "[env: WORKER_METRICS_LISTEN"),
        (&["serve", "--help"][..], "[env: WORKER_ENABLED"),
        (&["serve", "--help"][..], "--no-worker"),
        (&["jobs", "--help"][..], "retry"),
        (&["jobs", "list", "--help"][..], "--status <STATUS>"),
        (&["jobs", "retry", "--help"][..], "--all-dead"),
        (
            &["jobs", "purge", "--help"][..],
            "--older-than <OLDER_THAN>",
        ),
    ] {
        let out = run(brokerdb().args(args))?;
        assert!(out.status.success(), "{args:?} failed");
        let text = stdout(&out);
        assert!(
            text.contains(expect),
            "{args:?}: {expect:?} not in:\n{text}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn jobs_list_prints_a_table_filtered_by_queue_and_status() -> TestResult {
    let test_db = database().await;
    let db = test_db.db().await;
    let done = job_in(&db, "mail", JobStatus::Succeeded).await?;
    let dead = job_in(&db, "mail", JobStatus::Dead).await?;
    let queued = job_in(&db, "sweep_sessions", JobStatus::Queued).await?;

    let out = jobs_cmd(&test_db, &["list"])?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines[0].starts_with("ID  QUEUE           KIND  STATUS     ATTEMPTS  RUN_AT"),
        "{text}"
    );
    assert!(lines[0].ends_with("TENANT  LAST_ERROR"), "{text}");
    assert!(
        lines[1].starts_with(&format!("{queued:<4}sweep_sessions  work  queued     0/1")),
        "{text}"
    );
    assert!(
        lines[2].starts_with(&format!("{dead:<4}mail            work  dead       1/1")),
        "{text}"
    );
    assert!(lines[2].ends_with("upstream answered 503"), "{text}");
    assert!(
        lines[3].starts_with(&format!("{done:<4}mail            work  succeeded  1/1")),
        "{text}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("3 job(s)"));

    let out = jobs_cmd(&test_db, &["list", "--queue", "mail", "--status", "dead"])?;
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with(&dead.to_string())),
        "{text}"
    );

    let out = jobs_cmd(&test_db, &["list", "--limit", "1"])?;
    assert_eq!(stdout(&out).lines().count(), 2);
    let out = jobs_cmd(&test_db, &["list", "--before", &queued.to_string()])?;
    assert_eq!(stdout(&out).lines().count(), 3);
    Ok(())
}

#[tokio::test]
async fn jobs_retry_and_purge_do_what_they_say() -> TestResult {
    let test_db = database().await;
    let db = test_db.db().await;
    let dead = job_in(&db, "mail", JobStatus::Dead).await?;
    let more_dead = [
        job_in(&db, "mail", JobStatus::Dead).await?,
        job_in(&db, "mail", JobStatus::Dead).await?,
    ];
    let other_dead = job_in(&db, "other", JobStatus::Dead).await?;
    let done = job_in(&db, "mail", JobStatus::Succeeded).await?;

    let out = jobs_cmd(&test_db, &["retry", &dead.to_string()])?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout(&out),
        format!("job {dead} of queue mail queued again (1 attempts)\n")
    );
    assert_eq!(status(&db, dead).await?, JobStatus::Queued);

    let out = jobs_cmd(&test_db, &["retry", "--all-dead", "--queue", "mail"])?;
    assert_eq!(stdout(&out), "queued 2 dead job(s) of queue mail again\n");
    for id in more_dead {
        assert_eq!(status(&db, id).await?, JobStatus::Queued);
    }
    assert_eq!(status(&db, other_dead).await?, JobStatus::Dead);

    let out = jobs_cmd(&test_db, &["purge", "--older-than", "1h"])?;
    assert_eq!(
        stdout(&out),
        "purged 0 succeeded job(s) finished more than 1h ago\n"
    );
    let out = jobs_cmd(
        &test_db,
        &["purge", "--older-than", "0s", "--status", "finished"],
    )?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout(&out),
        "purged 2 finished job(s) finished more than 0s ago\n"
    );
    assert!(jobs::get(&mut db.system(), done).await?.is_none());
    assert!(jobs::get(&mut db.system(), other_dead).await?.is_none());
    assert_eq!(
        status(&db, dead).await?,
        JobStatus::Queued,
        "unfinished jobs are never purged"
    );
    Ok(())
}

#[tokio::test]
async fn bad_job_commands_are_one_clear_error_and_a_failing_exit_code() -> TestResult {
    let test_db = database().await;
    let db = test_db.db().await;
    let queued = job_in(&db, "mail", JobStatus::Queued).await?;

    // Refused by the flag parser (exit code 2), before anything is reached.
    for (args, text) in [
        (
            &["list", "--status", "done"][..],
            "invalid value 'done' for '--status <STATUS>'",
        ),
        (
            &["list", "--queue", "Mail Queue"][..],
            "invalid value 'Mail Queue' for '--queue <QUEUE>'",
        ),
        (
            &["list", "--limit", "0"][..],
            "invalid value '0' for '--limit <LIMIT>'",
        ),
        (
            &["retry"][..],
            "the following required arguments were not provided",
        ),
        (
            &["retry", "--all-dead"][..],
            "the following required arguments were not provided",
        ),
        (
            &["retry", "12", "--all-dead", "--queue", "mail"][..],
            "cannot be used with",
        ),
        (&["retry", "twelve"][..], "invalid value 'twelve'"),
        (
            &["purge"][..],
            "the following required arguments were not provided",
        ),
        (
            &["purge", "--older-than", "soon"][..],
            "invalid value 'soon' for '--older-than <OLDER_THAN>'",
        ),
        (
            &["purge", "--older-than", "1d", "--status", "queued"][..],
            "invalid value 'queued'",
        ),
    ] {
        let out = jobs_cmd(&test_db, args)?;
        assert_refused(&out, 2, text);
    }
    // Refused by the command (exit code 1).
    let out = jobs_cmd(&test_db, &["retry", "987654"])?;
    assert_refused(&out, 1, "error: no job has the id 987654");
    let out = jobs_cmd(&test_db, &["retry", &queued.to_string()])?;
    assert_refused(
        &out,
        1,
        &format!("error: job {queued} is queued, not dead: only dead jobs can be retried"),
    );
    assert_eq!(status(&db, queued).await?, JobStatus::Queued);
    let out = run(brokerdb().args(["jobs", "list"]).env(
        "DATABASE_URL",
        "postgres://postgres:s3cret@127.0.0.1:1/brokerdb",
    ))?;
    assert_refused(
        &out,
        1,
        "error: cannot connect to PostgreSQL as brokerdb_system@127.0.0.1:1/brokerdb",
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("s3cret"));
    Ok(())
}

/// Tenant `t_w` with a workload, `expired` expired sessions and one live one.
async fn with_sessions(db: &Db, expired: u64) -> Result<(), Error> {
    let t = TenantId::parse("t_w")?;
    brokerdb::repo::tenants::create(&mut db.system(), "W", Some(t.clone())).await?;
    let req = WorkloadCreateRequest {
        name: "api".into(),
        ip_allowlist: None,
        enrollment_mode: EnrollmentMode::BrokerCa,
    };
    let w = workloads::create(&mut db.tenant(&t), &req, None, None)
        .await?
        .workload_id;
    for n in 1..=expired + 1 {
        let ttl: i64 = if n > expired { 3600 } else { -60 };
        let record = SessionRecord {
            session_id: SessionId::parse(&format!("00000000-0000-4000-8000-{n:012x}"))?,
            workload_id: w.clone(),
            tenant_id: t.clone(),
            cert_fingerprint256: NonEmptyString::new("cert_fingerprint_256", "sha256:abc")?,
            token_hash: TokenHash::parse(&format!("{n:064x}"))?,
            expires_at: Timestamp::from_unix_millis(Timestamp::now().unix_millis() + ttl * 1000)?,
            dpop_key_thumbprint: None,
            scopes: None,
        };
        sessions::upsert(&mut db.tenant(&t), &record).await?;
    }
    Ok(())
}

async fn sessions_left(test_db: &TestDatabase) -> Result<i64, Error> {
    Ok(test_db
        .admin()
        .await
        .query_one("SELECT count(*) FROM workload_sessions", &[])
        .await?
        .get(0))
}

/// Polls until only the live session is left (at most a minute: a bound, not a measurement).
async fn wait_for_the_sweep(test_db: &TestDatabase, child: &mut Served) -> TestResult {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while sessions_left(test_db).await? != 1 {
        if let Some(exit) = child.child.try_wait()? {
            return Err(format!("brokerdb exited early: {exit}").into());
        }
        if std::time::Instant::now() > deadline {
            return Err("the expired sessions were not swept".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

#[tokio::test]
async fn the_worker_command_sweeps_until_sigterm_and_serves_its_metrics() -> TestResult {
    let test_db = database().await;
    let db = test_db.db().await;
    with_sessions(&db, 5).await?;
    let port = free_port()?;
    let redis = brokerdb_testkit::redis().await;
    let child = brokerdb()
        .args(["worker", "--database-url", &test_db.admin_url()])
        .args(["--redis-url", redis.url()])
        .args(["--sweep-batch-size", "2", "--job-poll-interval", "50ms"])
        .args(["--metrics-listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut worker = Served { child, port };
    wait_for_the_sweep(&test_db, &mut worker).await?;
    // The last run's counters are recorded just after its rows are gone.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let metrics = loop {
        let (code, metrics) = crate::support::http_get(port, "/metrics")?;
        assert_eq!(code, 200);
        if metrics.contains("brokerdb_sweep_rows_total{sweep=\"sweep_sessions\"} 5") {
            break metrics;
        }
        if std::time::Instant::now() > deadline {
            return Err(format!("the sweep's rows were not counted:\n{metrics}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        metrics.contains("brokerdb_jobs_total{queue=\"sweep_sessions\",outcome=\"succeeded\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("brokerdb_job_duration_seconds_bucket{queue=\"sweep_sessions\",outcome=\"succeeded\",le=\"600\"}"), "{metrics}");
    let (exit, stderr) = worker.terminate()?;
    assert!(exit.success(), "{exit}: {stderr}");
    assert!(
        stderr.contains("job worker and scheduler started"),
        "{stderr}"
    );
    assert!(stderr.contains("sweep finished"), "{stderr}");
    assert!(stderr.contains("shutting down"), "{stderr}");
    let open = jobs::list(
        &mut db.system(),
        &jobs::JobFilter {
            queue: None,
            status: Some(JobStatus::Running),
        },
        10,
        None,
    )
    .await?;
    assert!(open.is_empty(), "a run was left unsettled: {open:?}");
    Ok(())
}

#[tokio::test]
async fn serve_runs_a_worker_unless_it_is_disabled() -> TestResult {
    let r = redis().await;
    for (extra, expect) in [
        (None, "job worker and scheduler started"),
        (Some("--no-worker"), "job worker disabled"),
    ] {
        let test_db = database().await;
        let db = test_db.db().await;
        with_sessions(&db, 3).await?;
        let port = free_port()?;
        let child = brokerdb()
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args([
                "--database-url",
                &test_db.admin_url(),
                "--redis-url",
                r.url(),
            ])
            .args(["--job-poll-interval", "50ms"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut served = Served { child, port };
        let (code, body) = served.wait_ready(Duration::from_secs(60))?;
        assert_eq!(code, 200, "{body}");
        if extra.is_none() {
            wait_for_the_sweep(&test_db, &mut served).await?;
        }
        let (exit, stderr) = served.terminate()?;
        assert!(exit.success(), "{exit}: {stderr}");
        assert!(stderr.contains(expect), "{stderr}");
        if extra.is_some() {
            assert!(!stderr.contains("sweep finished"), "{stderr}");
            assert_eq!(sessions_left(&test_db).await?, 4, "no worker, no sweep");
        }
    }
    Ok(())
}

#[test]
fn bad_job_settings_fail_before_a_server_is_started() -> TestResult {
    for command in [&["serve", "--listen", "127.0.0.1:0"][..], &["worker"][..]] {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("JOB_VISIBILITY_TIMEOUT", "0s")],
                "error: JOB_VISIBILITY_TIMEOUT must be more than zero",
            ),
            (
                &[("JOB_POLL_INTERVAL", "0s")],
                "error: JOB_POLL_INTERVAL must be more than zero",
            ),
            (
                &[("SWEEP_INTERVAL", "100ms")],
                "error: SWEEP_INTERVAL must be at least 1s",
            ),
            (
                &[("SWEEP_BATCH_SIZE", "0")],
                "error: invalid value '0' for '--sweep-batch-size <SWEEP_BATCH_SIZE>'",
            ),
            (
                &[("WORKER_CONCURRENCY", "1001")],
                "error: invalid value '1001' for '--worker-concurrency <WORKER_CONCURRENCY>'",
            ),
        ];
        for (env, prefix) in cases {
            crate::fail_fast::fails_before_starting(command, env, prefix)?;
        }
    }
    Ok(())
}
