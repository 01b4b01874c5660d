//! The README's walk-through, run verbatim as a newcomer would: `serve` on the embedded default
//! (a private data directory here), then the README's block of shell lines in a second process,
//! whose CLI commands use the running service's PostgreSQL. `cargo run --release [-q] --` is
//! replaced by this build's binary and port 8080 by the test's; nothing else is changed.

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::Duration;

use crate::TestResult;
use crate::support::{Served, brokerdb, free_port};

/// The shell lines between the walk-through markers of the README.
fn walkthrough() -> Result<String, Box<dyn std::error::Error>> {
    let readme = include_str!("../../../../README.md");
    let start = readme
        .find("<!-- walkthrough:start -->")
        .ok_or("no walk-through start marker in README.md")?;
    let end = readme
        .find("<!-- walkthrough:end -->")
        .ok_or("no walk-through end marker in README.md")?;
    let block = &readme[start..end];
    let body = block
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.rsplit_once("```"))
        .map(|(body, _)| body.to_owned())
        .ok_or("no ```sh block between the walk-through markers")?;
    Ok(body)
}

#[tokio::test]
async fn the_readme_walkthrough_runs_as_written() -> TestResult {
    // The embedded PostgreSQL runs as the `postgres` user when the tests run as root: it must
    // be able to enter the directory.
    let dir = tempfile::tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    let data_dir = dir.path().join("data");
    let port = free_port()?;
    let bin = env!("CARGO_BIN_EXE_brokerdb");
    let child = brokerdb()
        .arg("serve")
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut served = Served { child, port };
    let (status, body) = served.wait_ready(Duration::from_secs(120))?;
    assert_eq!(status, 200, "{body}");

    let script = walkthrough()?
        .replace("cargo run --release -q --", bin)
        .replace("cargo run --release --", bin)
        .replace("http://127.0.0.1:8080", &format!("http://127.0.0.1:{port}"));
    assert!(!script.contains("cargo "), "{script}");
    let out = std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .env_remove("DATABASE_URL")
        .env_remove("DATABASE_RUNTIME_URL")
        .env_remove("DATABASE_SYSTEM_URL")
        .env_remove("REDIS_URL")
        .env("BROKERDB_DATA_DIR", &data_dir)
        .env("RUST_LOG", "warn")
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "walk-through failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // What the reader is told to expect: the list, a second keyset page, the approval walked to
    // executed, audit events and an intact chain.
    assert!(stdout.contains("\"total\":"), "{stdout}");
    assert!(stdout.contains("\n50\n"), "second keyset page: {stdout}");
    assert!(stdout.contains("approved\nexecuted\n"), "{stdout}");
    assert!(stdout.contains("approval_decided"), "{stdout}");
    assert!(stdout.contains("\"intact\": true"), "{stdout}");
    assert!(
        !stdout.contains("null"),
        "a field the README shows is missing: {stdout}"
    );
    let (exit, log) = served.terminate()?;
    assert!(exit.success(), "{exit}: {log}");
    assert!(!log.contains("panicked"), "{log}");
    Ok(())
}
