//! `brokerdb repair` and `brokerdb doctor` as an operator runs them: the OS user as principal,
//! the guards before any connection, refusals exiting 2.

use std::process::Output;

use brokerdb_repair::Registry;
use brokerdb_server::ops::principal::os_principal;
use brokerdb_testkit::database;

use crate::TestResult;
use crate::support::{brokerdb, error_lines, run};

/// A PostgreSQL URL nothing listens on: a command that connects fails with exit 1.
const NOWHERE: &str = "postgres://postgres@127.0.0.1:1/brokerdb";

/// `brokerdb <args>` with `BROKERDB_ENV` and `BROKERDB_REPAIR_ADMINS` as given (removed when
/// `None`), against `url`.
pub fn console_cmd(
    env: Option<&str>,
    admins: Option<&str>,
    url: &str,
    args: &[&str],
) -> std::io::Result<Output> {
    let mut cmd = brokerdb();
    cmd.env_remove("BROKERDB_ENV")
        .env_remove("BROKERDB_REPAIR_ADMINS");
    if let Some(env) = env {
        cmd.env("BROKERDB_ENV", env);
    }
    if let Some(admins) = admins {
        cmd.env("BROKERDB_REPAIR_ADMINS", admins);
    }
    run(cmd.args(args).args(["--database-url", url]))
}

/// stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Exit `code`, exactly one `error:` line, containing `text`, no panic.
fn assert_refused(out: &Output, code: i32, text: &str) {
    let (errors, panicked) = error_lines(out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert!(!panicked, "{stderr}");
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains(text), "{:?} lacks {text:?}", errors[0]);
}

/// Every console command, with a valid hash for execute.
fn commands() -> Result<Vec<Vec<String>>, Box<dyn std::error::Error>> {
    let p = Registry::builtin()?.list().first().ok_or("no playbook")?;
    let v = |args: &[&str]| args.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    Ok(vec![
        v(&["repair", "list"]),
        v(&["repair", "preview", &p.id]),
        v(&["repair", "execute", &p.id, "--hash", &p.hash]),
        v(&["repair", "runs"]),
    ])
}

#[test]
fn the_console_commands_have_help_naming_their_options_and_variables() -> TestResult {
    for (args, expect) in [
        (&["--help"][..], "repair"),
        (&["--help"][..], "doctor"),
        (&["repair", "--help"][..], "preview"),
        (&["repair", "--help"][..], "[env: BROKERDB_ENV"),
        (&["repair", "--help"][..], "[env: BROKERDB_REPAIR_ADMINS"),
        (&["repair", "--help"][..], "[env: REPAIR_STATEMENT_TIMEOUT"),
        (&["repair", "--help"][..], "[env: REPAIR_LOCK_TIMEOUT"),
        (&["repair", "execute", "--help"][..], "--hash <HASH>"),
        (&["repair", "runs", "--help"][..], "--limit <LIMIT>"),
        (&["doctor", "--help"][..], "--json"),
        (&["serve", "--help"][..], "[env: REPAIR_PROXY_HEADER"),
        (&["serve", "--help"][..], "[env: REPAIR_TRUST_PROXY_HEADER"),
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

#[test]
fn outside_staging_and_development_every_command_exits_2_before_connecting() -> TestResult {
    let me = os_principal();
    for env in [Some("production"), None] {
        for args in commands()? {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = console_cmd(env, Some(&me), NOWHERE, &args)?;
            assert_refused(
                &out,
                2,
                "the repair console is disabled in this environment",
            );
            assert!(stdout(&out).is_empty(), "{args:?}");
        }
    }
    Ok(())
}

#[test]
fn an_os_user_outside_the_allowlist_is_refused_with_exit_2() -> TestResult {
    for admins in [Some("os:someone-else"), Some(""), None] {
        for args in commands()? {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = console_cmd(Some("staging"), admins, NOWHERE, &args)?;
            assert_refused(&out, 2, "not allowed to run repairs");
        }
    }
    // A bare user name does not match: the CLI's principal is `os:<user>`.
    let bare = os_principal().trim_start_matches("os:").to_owned();
    let out = console_cmd(Some("staging"), Some(&bare), NOWHERE, &["repair", "list"])?;
    assert_refused(&out, 2, "not allowed to run repairs");
    Ok(())
}

#[tokio::test]
async fn doctor_only_reads_so_it_needs_no_guard_and_works_in_production() -> TestResult {
    let db = database().await;
    let out = console_cmd(Some("production"), None, &db.admin_url(), &["doctor"])?;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("no drift"), "{}", stdout(&out));
    db.admin()
        .await
        .batch_execute("ALTER TABLE human_users NO FORCE ROW LEVEL SECURITY")
        .await?;
    let out = console_cmd(None, None, &db.admin_url(), &["doctor"])?;
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("human_users") && text.contains("R-002"),
        "{text}"
    );
    Ok(())
}

#[tokio::test]
async fn an_admin_lists_previews_and_executes_and_a_wrong_hash_exits_2() -> TestResult {
    let db = database().await;
    let url = db.admin_url();
    let me = os_principal();
    let staging = |args: &[&str]| console_cmd(Some("staging"), Some(&me), &url, args);
    let registry = Registry::builtin()?;

    let out = staging(&["repair", "list"])?;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("ID     TITLE"), "{text}");
    assert_eq!(lines.len(), registry.list().len() + 1, "{text}");
    for (line, p) in lines[1..].iter().zip(registry.list()) {
        assert!(line.starts_with(&p.id) && line.ends_with(&p.hash), "{line}");
    }

    let p = registry.get("R-001")?;
    let out = staging(&["repair", "preview", "R-001"])?;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    assert!(text.contains(&p.hash), "{text}");
    assert!(
        text.contains(&format!("brokerdb repair execute R-001 --hash {}", p.hash)),
        "{text}"
    );

    let wrong = format!(
        "{}{}",
        if p.hash.starts_with('0') { '1' } else { '0' },
        &p.hash[1..]
    );
    let out = staging(&["repair", "execute", "R-001", "--hash", &wrong])?;
    assert_refused(&out, 2, "does not match");

    let out = staging(&["repair", "preview", "R-999"])?;
    assert_refused(&out, 1, "no repair playbook has this id");

    let out = staging(&["repair", "execute", "R-001", "--hash", &p.hash])?;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out).starts_with("status          SUCCESS"),
        "{}",
        stdout(&out)
    );

    let out = staging(&["repair", "runs"])?;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[1].contains("R-001") && lines[1].contains("SUCCESS"),
        "{text}"
    );
    assert!(lines[1].contains(&format!("  {me}  staging  ")), "{text}");
    Ok(())
}

#[tokio::test]
async fn with_only_the_role_urls_the_console_is_unavailable() -> TestResult {
    let db = database().await;
    let mut url = url::Url::parse(&db.admin_url())?;
    let mut role_url = |role: &str| -> Result<String, Box<dyn std::error::Error>> {
        url.set_username(role).map_err(|()| "cannot set the user")?;
        Ok(url.to_string())
    };
    let (runtime, system) = (role_url("brokerdb_app")?, role_url("brokerdb_system")?);
    let out = run(brokerdb()
        .env("BROKERDB_ENV", "staging")
        .env("BROKERDB_REPAIR_ADMINS", os_principal())
        .args(["repair", "list"])
        .args(["--database-runtime-url", &runtime])
        .args(["--database-system-url", &system]))?;
    assert_refused(&out, 1, "needs the admin (owner or superuser) connection");
    Ok(())
}
