//! `brokerdb seed`, run as a user runs it, twice, against a fresh database.

use brokerdb::repo::api_tokens::{self, ApiTokenRole};
use brokerdb_testkit::{TestDatabase, empty_database};

use crate::TestResult;
use crate::support::{brokerdb, run};

type Error = Box<dyn std::error::Error>;

/// Rows per table (and approvals per status), as the database holds them.
async fn counts(test_db: &TestDatabase) -> Result<Vec<(String, i64)>, Error> {
    let admin = test_db.admin().await;
    let rows = admin
        .query(
            "SELECT 'tenants', count(*) FROM tenants
             UNION ALL SELECT 'human_users', count(*) FROM human_users
             UNION ALL SELECT 'human_user_roles', count(*) FROM human_user_roles
             UNION ALL SELECT 'workloads', count(*) FROM workloads
             UNION ALL SELECT 'template_versions', count(*) FROM template_versions
             UNION ALL SELECT 'integrations', count(*) FROM integrations
             UNION ALL SELECT 'policy_rules', count(*) FROM policy_rules
             UNION ALL SELECT 'approvals ' || status, count(*) FROM approval_requests GROUP BY status
             UNION ALL SELECT 'audit_events', count(*) FROM audit_events
             UNION ALL SELECT 'projects', count(*) FROM projects
             UNION ALL SELECT 'artifacts', count(*) FROM artifacts
             UNION ALL SELECT 'system_audit_events', count(*) FROM system_audit_events
                   WHERE action NOT LIKE 'api\\_token.%'
             ORDER BY 1",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Runs `brokerdb seed --tenants 2 --users 20`; asserts it exits 0 without an error line and
/// returns its stdout.
fn seed(test_db: &TestDatabase) -> Result<String, Error> {
    let out = run(brokerdb().args([
        "seed",
        "--tenants",
        "2",
        "--users",
        "20",
        "--database-url",
        &test_db.admin_url(),
    ]))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "seed failed: {stderr}");
    assert!(!stderr.contains("error:"), "{stderr}");
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The admin tokens a run printed, in tenant order.
fn tokens(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("token "))
        .map(str::to_owned)
        .collect()
}

/// The summary's `(created, already there)` for `label`.
fn summary_row(stdout: &str, label: &str) -> Option<(u64, u64)> {
    stdout.lines().find_map(|line| {
        let rest = line.strip_prefix(label)?;
        let mut numbers = rest.split_whitespace().map(str::parse::<u64>);
        match (numbers.next(), numbers.next(), numbers.next()) {
            (Some(Ok(created)), Some(Ok(present)), None) => Some((created, present)),
            _ => None,
        }
    })
}

const KINDS: [&str; 11] = [
    "tenants ",
    "users ",
    "workloads ",
    "template versions ",
    "integrations ",
    "policy rules ",
    "approvals ",
    "audit events ",
    "system audit events ",
    "projects ",
    "artifacts ",
];

#[tokio::test]
async fn seeding_twice_creates_everything_once_and_the_audit_trail_verifies() -> TestResult {
    // No migration applied yet: the seed migrates an admin URL's database first.
    let test_db = empty_database().await;

    let first = seed(&test_db)?;
    let after_first = counts(&test_db).await?;
    assert_eq!(summary_row(&first, "tenants "), Some((2, 0)), "{first}");
    assert_eq!(summary_row(&first, "users "), Some((40, 0)), "{first}");
    for kind in KINDS {
        let (created, present) = summary_row(&first, kind).ok_or(format!("{kind}in {first}"))?;
        assert!(created > 0 && present == 0, "{kind}: {first}");
    }
    assert!(first.contains("t_demo_1"), "{first}");
    assert!(first.contains("owner u_demo_2_1"), "{first}");

    let second = seed(&test_db)?;
    let after_second = counts(&test_db).await?;
    // Each run prints a fresh admin token per tenant and revokes the previous run's.
    let db = test_db.db().await;
    let (old, new) = (tokens(&first), tokens(&second));
    assert_eq!((old.len(), new.len()), (2, 2), "{first}\n{second}");
    for (token, tenant) in new.iter().zip(["t_demo_1", "t_demo_2"]) {
        let found = api_tokens::authenticate(&mut db.system(), token)
            .await?
            .ok_or("a printed token does not authenticate")?;
        assert_eq!(
            found.tenant_id.map(|t| t.to_string()).as_deref(),
            Some(tenant)
        );
        assert_eq!(found.role, ApiTokenRole::Admin);
    }
    for token in &old {
        assert!(
            api_tokens::authenticate(&mut db.system(), token)
                .await?
                .is_none()
        );
    }
    assert_eq!(after_first, after_second, "the second run changed the data");
    for kind in KINDS {
        let (created, present) = summary_row(&second, kind).ok_or(format!("{kind}in {second}"))?;
        let (first_created, _) = summary_row(&first, kind).unwrap_or_default();
        assert_eq!((created, present), (0, first_created), "{kind}: {second}");
    }

    let per_tenant: Vec<(String, i64)> = test_db
        .admin()
        .await
        .query(
            "SELECT tenant_id, count(*) FROM human_users GROUP BY tenant_id ORDER BY tenant_id",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        per_tenant,
        [("t_demo_1".to_owned(), 20), ("t_demo_2".to_owned(), 20)]
    );
    let statuses = after_second
        .iter()
        .filter(|(name, _)| name.starts_with("approvals "))
        .count();
    assert_eq!(
        statuses, 6,
        "one approval in every status: {after_second:?}"
    );

    let projects: Vec<(String, String, String, Option<String>, bool)> = test_db
        .admin()
        .await
        .query(
            "SELECT tenant_id, name, repo_url, config->>'prdFile',
                    webhook_secret_ciphertext IS NOT NULL FROM projects ORDER BY tenant_id",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    let jive = |t: &str| {
        (
            t.to_owned(),
            "JIVE".to_owned(),
            "https://github.com/example/jive".to_owned(),
            Some("docs/prd.md".to_owned()),
            true,
        )
    };
    assert_eq!(projects, [jive("t_demo_1"), jive("t_demo_2")]);
    assert_eq!(summary_row(&first, "artifacts "), Some((10, 0)), "{first}");

    let verify = run(brokerdb().args(["audit", "verify", "--database-url", &test_db.admin_url()]))?;
    let report = String::from_utf8_lossy(&verify.stdout);
    assert_eq!(verify.status.code(), Some(0), "{report}");
    assert!(report.contains("ok      tenant t_demo_1: "), "{report}");
    assert!(report.contains("ok      tenant t_demo_2: "), "{report}");
    assert!(report.contains("audit trail intact: 3 chains"), "{report}");
    Ok(())
}

#[test]
fn seed_help_names_its_options_and_their_variables() -> TestResult {
    let out = run(brokerdb().args(["seed", "--help"]))?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for expect in [
        "--tenants <TENANTS>",
        "[env: SEED_TENANTS",
        "[default: 3]",
        "--users <USERS>",
        "[env: SEED_USERS",
        "[default: 200]",
        "[env: DATABASE_URL",
        "[env: BROKERDB_DATA_DIR",
    ] {
        assert!(text.contains(expect), "{expect:?} not in:\n{text}");
    }
    Ok(())
}
