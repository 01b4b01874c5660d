//! Bad configuration fails before any server is started or reached: every command checks its
//! whole configuration first. Each case runs without database and Redis URLs for the part it
//! does not break, so a command that got past its checks would start the embedded servers under
//! `--data-dir`; the data directory must never appear.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::TestResult;
use crate::support::{brokerdb, error_lines, run};

type Error = Box<dyn std::error::Error>;

/// Runs `brokerdb args… --data-dir <fresh>` with `env`, and asserts one `error:` line starting
/// with `prefix`, no panic, no `s3cret` anywhere in the output, and no data directory. A command
/// that is still running after 30 s (it got past its checks) is killed and fails the test.
pub fn fails_before_starting(
    args: &[&str],
    env: &[(&str, &str)],
    prefix: &str,
) -> Result<(), Error> {
    let dir = tempfile::tempdir()?;
    let data_dir = dir.path().join("data");
    let case = format!("{args:?} {env:?}");
    let mut child = brokerdb()
        .args(args)
        .arg("--data-dir")
        .arg(&data_dir)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait()?.is_none() {
        if Instant::now() > deadline {
            child.kill()?;
            child.wait()?;
            return Err(format!("{case}: still running after 30 s").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output()?;
    let (errors, panicked) = error_lines(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{case}: succeeded");
    assert!(!panicked, "{case}: panicked: {stderr}");
    assert_eq!(errors.len(), 1, "{case}: {stderr}");
    assert!(errors[0].starts_with(prefix), "{case}: {:?}", errors[0]);
    assert!(!stderr.contains("s3cret"), "{case}: {stderr}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("s3cret"),
        "{case}"
    );
    assert!(
        !data_dir.exists(),
        "{case}: {} was created: a server was started before the error",
        data_dir.display()
    );
    Ok(())
}

fn missing(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

#[test]
fn serve_refuses_each_kind_of_bad_value_before_starting_a_server() -> TestResult {
    let dir = tempfile::tempdir()?;
    let missing_ca = missing(dir.path(), "ca.pem");
    let missing_key = missing(dir.path(), "checkpoint.key");
    let checkpoint_dir = missing(dir.path(), "checkpoints");
    let good_pg = "postgres://brokerdb_app:s3cret@127.0.0.1:1/brokerdb";
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("BROKERDB_CURSOR_SECRET", "not-hex-s3cret")],
            "error: BROKERDB_CURSOR_SECRET must be 64 hex characters",
        ),
        (
            &[("REDIS_URL", "redis://:s3cret@127.0.0.1:notaport")],
            "error: REDIS_URL is not a valid Redis URL",
        ),
        (
            &[
                ("REDIS_URL", "rediss://:s3cret@localhost:6380"),
                ("REDIS_CA_FILE", &missing_ca),
            ],
            "error: REDIS_CA_FILE: cannot read the Redis CA file",
        ),
        (
            &[("DATABASE_URL", "postgres://u:s3cret@127.0.0.1:notaport/db")],
            "error: DATABASE_URL is not a valid PostgreSQL URL",
        ),
        (
            &[
                (
                    "DATABASE_RUNTIME_URL",
                    "postgres://brokerdb_app:s3cret@127.0.0.1/db?sslmode=bogus",
                ),
                ("DATABASE_SYSTEM_URL", good_pg),
            ],
            "error: DATABASE_RUNTIME_URL is not a valid PostgreSQL URL",
        ),
        (
            &[("DATABASE_SYSTEM_URL", good_pg)],
            "error: DATABASE_RUNTIME_URL is required when DATABASE_URL is not set",
        ),
        (
            &[
                ("AUDIT_CHECKPOINT_KEY_FILE", &missing_key),
                ("AUDIT_CHECKPOINT_DIR", &checkpoint_dir),
            ],
            "error: AUDIT_CHECKPOINT_KEY_FILE cannot be used",
        ),
        (
            &[("AUDIT_SEAL_INTERVAL", "0s")],
            "error: AUDIT_SEAL_INTERVAL must be more than zero",
        ),
        (
            &[("AUDIT_CHECKPOINT_INTERVAL", "0s")],
            "error: AUDIT_CHECKPOINT_INTERVAL must be more than zero",
        ),
        // Malformed durations, addresses and sizes are refused by the flag parser itself.
        (
            &[("AUDIT_SEAL_INTERVAL", "soon")],
            "error: invalid value 'soon' for '--audit-seal-interval",
        ),
        (
            &[("DATABASE_POOL_SIZE", "0")],
            "error: invalid value '0' for '--pool-size",
        ),
    ];
    for (env, prefix) in cases {
        fails_before_starting(&["serve", "--listen", "127.0.0.1:0"], env, prefix)?;
    }
    fails_before_starting(
        &["serve", "--listen", "127.0.0.1:notaport"],
        &[],
        "error: invalid value '127.0.0.1:notaport' for '--listen",
    )?;
    assert!(
        !Path::new(&checkpoint_dir).exists(),
        "the checkpoint directory was created"
    );
    Ok(())
}

#[test]
fn bench_checks_redis_before_the_postgres_rows_start_a_server() -> TestResult {
    let bench = ["bench", "--seconds", "1", "--concurrency", "1"];
    fails_before_starting(
        &bench,
        &[("REDIS_URL", "redis://:s3cret@127.0.0.1:notaport")],
        "error: REDIS_URL is not a valid Redis URL",
    )?;
    fails_before_starting(
        &bench,
        &[("REDIS_URL", "rediss://:s3cret@localhost:6380")],
        "error: the Redis bench needs a plain TCP or Unix-socket Redis URL",
    )?;
    fails_before_starting(
        &["bench", "--only", "no-such-row"],
        &[],
        "error: --only matches no row",
    )
}

#[test]
fn migrate_refuses_a_malformed_url() -> TestResult {
    fails_before_starting(
        &["migrate", "status"],
        &[("DATABASE_URL", "postgres://u:s3cret@127.0.0.1:notaport/db")],
        "error: DATABASE_URL is not a valid PostgreSQL URL",
    )
}

#[test]
fn audit_checks_keys_checkpoints_and_tenant_before_starting_a_server() -> TestResult {
    let dir = tempfile::tempdir()?;
    let key = dir.path().join("checkpoint.key");
    let out = run(brokerdb().args(["audit", "keygen", "--out"]).arg(&key))?;
    assert!(out.status.success());
    let public_key = String::from_utf8(out.stdout)?.trim().to_owned();
    let missing_checkpoints = missing(dir.path(), "checkpoints");
    let missing_key = missing(dir.path(), "missing.key");
    fails_before_starting(
        &["audit", "verify", "--public-key", "not-hex"],
        &[],
        "error: AUDIT_CHECKPOINT_PUBLIC_KEY cannot be used",
    )?;
    fails_before_starting(
        &[
            "audit",
            "verify",
            "--public-key",
            &public_key,
            "--checkpoints",
            &missing_checkpoints,
        ],
        &[],
        "error: AUDIT_CHECKPOINTS cannot be read",
    )?;
    fails_before_starting(
        &["audit", "verify", "--tenant", "  "],
        &[],
        "error: --tenant is not a valid tenant id",
    )?;
    fails_before_starting(
        &["audit", "checkpoint", "--out", "-", "--key", &missing_key],
        &[],
        "error: AUDIT_CHECKPOINT_KEY_FILE cannot be used",
    )?;
    fails_before_starting(
        &["audit", "seal"],
        &[("DATABASE_URL", "postgres://u:s3cret@127.0.0.1:notaport/db")],
        "error: DATABASE_URL is not a valid PostgreSQL URL",
    )
}
