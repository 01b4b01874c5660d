//! Backup and restore, as `docs/backup.md` tells an operator to do them.
//!
//! A populated database (tenants, users, workloads, enrollment tokens, tenant and system audit
//! events sealed into their chains, a signed checkpoint of the chain heads written by
//! `brokerdb audit checkpoint`, and one event not sealed yet) is dumped with
//! `pg_dump --format=custom` and restored with `pg_restore` into a fresh private cluster, under
//! the same database name (checkpoints name their database), after creating the three
//! cluster-wide roles there. Then: every table holds the rows it held at the dump; `brokerdb
//! migrate` (nothing pending) re-applies the database-level hardening a dump does not carry;
//! `brokerdb doctor` finds no drift; `brokerdb audit seal` seals the unsealed row; `brokerdb audit
//! verify` against the checkpoint finds every chain intact (and, against a checkpoint taken after
//! the dump, reports the chain that lost an event as shorter); and the application works on the
//! restored copy: reads, a token consume, a new user, a new audit event sealed onto the restored
//! chain.

use std::path::Path;
use std::process::{Command, Output};

use brokerdb::audit::checkpoint::{database_name, read_checkpoints};
use brokerdb::audit::{
    self, AuditEvent, AuditEventType, CheckpointKey, CheckpointSet, SystemAuditEvent, VerifyOptions,
};
use brokerdb::db::paging::{PageRequest, Sort};
use brokerdb::db::{ConnectOptions, Db, TxOptions};
use brokerdb::model::{Email, NonEmptyString, TenantId, Timestamp, TokenHash};
use brokerdb::repo::enrollment_tokens::{self, IssueEnrollmentToken};
use brokerdb::repo::users::{self, CreateHumanUser};
use brokerdb::repo::{tenants, workloads};
use brokerdb_testkit::database;

use crate::TestResult;
use crate::private_pg::PrivateCluster;
use crate::support::brokerdb;

type Error = Box<dyn std::error::Error>;

const TENANTS: usize = 3;
const USERS_PER_TENANT: usize = 5;
const EVENTS_PER_TENANT: usize = 20;

/// The roles `docs/backup.md` creates on the target before `pg_restore` (as migration 0001
/// and 0009 leave them: the owner cannot log in).
const CREATE_ROLES: &str =
    "CREATE ROLE brokerdb_owner NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
     CREATE ROLE brokerdb_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
     CREATE ROLE brokerdb_system LOGIN NOSUPERUSER BYPASSRLS NOCREATEDB NOCREATEROLE";

/// Row count of every table of schema `public`, by name.
const TABLE_COUNTS: &str = "SELECT c.relname::text,
        (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM public.%I', c.relname),
                                              false, true, '')))[1]::text::bigint
     FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
     ORDER BY 1";

fn text(field: &'static str, s: &str) -> Result<NonEmptyString, Error> {
    Ok(NonEmptyString::new(field, s)?)
}

fn user(email: &str) -> Result<CreateHumanUser, Error> {
    Ok(CreateHumanUser {
        user_id: None,
        email: Email::parse(email)?,
        roles: vec!["operator".to_owned()],
        enabled: None,
        display_name: None,
        oidc_subject: None,
        oidc_issuer: None,
    })
}

async fn append(db: &Db, tenant: &TenantId) -> Result<(), Error> {
    let event = AuditEvent::generated(
        tenant.clone(),
        AuditEventType::Execute,
        text("correlation_id", "backup")?,
    );
    audit::append(&mut db.tenant(tenant), &event).await?;
    Ok(())
}

/// Tenants with users, a workload, enrollment tokens and audit events, and system events.
async fn populate(db: &Db) -> Result<Vec<TenantId>, Error> {
    let mut out = Vec::new();
    for t in 0..TENANTS {
        let id = tenants::create(&mut db.system(), &format!("backup {t}"), None)
            .await?
            .tenant_id;
        let mut scope = db.tenant(&id);
        for u in 0..USERS_PER_TENANT {
            users::create(&mut scope, &user(&format!("user{u}@tenant{t}.example"))?).await?;
        }
        let request = workloads::WorkloadCreateRequest {
            name: "api".into(),
            ip_allowlist: None,
            enrollment_mode: workloads::EnrollmentMode::BrokerCa,
        };
        let workload = workloads::create(&mut scope, &request, None, None)
            .await?
            .workload_id;
        for c in ['a', 'b'] {
            enrollment_tokens::issue(
                &mut scope,
                &IssueEnrollmentToken {
                    token_hash: TokenHash::parse(&format!("{c}{t}").repeat(32))?,
                    workload_id: workload.clone(),
                    expires_at: Timestamp::parse("2100-01-01T00:00:00Z")?,
                    created_at: None,
                },
            )
            .await?;
        }
        for _ in 0..EVENTS_PER_TENANT {
            append(db, &id).await?;
        }
        out.push(id);
    }
    for _ in 0..3 {
        let event = SystemAuditEvent::new(
            "signup_policy.set",
            text("actor", "adm_backup")?,
            text("correlation_id", "backup")?,
        );
        db.system()
            .transaction(&TxOptions::default(), move |tx| {
                let event = event.clone();
                Box::pin(async move { audit::append_system(tx, &event).await })
            })
            .await?;
    }
    Ok(out)
}

/// Runs a command to completion; fails with its output unless it exits 0.
fn succeed(what: &str, cmd: &mut Command) -> Result<Output, Error> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {what} (is it installed?): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(out)
}

async fn table_counts(client: &tokio_postgres::Client) -> Result<Vec<(String, i64)>, Error> {
    Ok(client
        .query(TABLE_COUNTS, &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// Verifies every tenant chain and the system chain against the checkpoints in `dir`; returns
/// the links walked.
async fn verify_all(
    db: &Db,
    tenants: &[TenantId],
    dir: &Path,
    key: &CheckpointKey,
) -> Result<u64, Error> {
    let database = database_name(&db.system()).await?;
    let opts = VerifyOptions {
        checkpoints: CheckpointSet::verified(read_checkpoints(dir)?, key, &database)?,
        ..VerifyOptions::default()
    };
    let mut links = 0;
    for t in tenants {
        let report = audit::verify_tenant_chain(&db.system(), t, &opts).await?;
        assert!(report.is_valid(), "tenant {t}: {:?}", report.first_broken);
        assert_eq!(report.checkpoints, 1, "tenant {t} has one checkpoint");
        links += report.links;
    }
    let report = audit::verify_system_chain(&db.system(), &opts).await?;
    assert!(report.is_valid(), "system: {:?}", report.first_broken);
    assert_eq!(report.checkpoints, 1, "the system chain has one checkpoint");
    Ok(links + report.links)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pg_dump_restored_into_a_fresh_cluster_works_and_its_audit_chains_verify() -> TestResult {
    let work = tempfile::tempdir()?;
    let source = database().await;
    let source_db = source.db().await;
    let tenants = populate(&source_db).await?;

    // Backup: seal and sign the chain heads, then dump (docs/backup.md, "Taking a backup").
    let key_file = work.path().join("checkpoint.key");
    let checkpoints = work.path().join("checkpoints");
    let keygen = succeed(
        "brokerdb audit keygen",
        brokerdb().args(["audit", "keygen", "--out"]).arg(&key_file),
    )?;
    let public_key = String::from_utf8(keygen.stdout)?
        .split_whitespace()
        .find(|w| w.len() == 64 && w.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or("audit keygen printed no public key")?
        .to_owned();
    succeed(
        "brokerdb audit checkpoint",
        brokerdb()
            .env("DATABASE_URL", source.admin_url())
            .args(["audit", "checkpoint", "--key"])
            .arg(&key_file)
            .arg("--out")
            .arg(&checkpoints),
    )?;
    // An event appended but not sealed yet when the dump runs (a running service's sealer lags
    // its appends by up to the merge delay): the dump holds it unsealed.
    append(&source_db, &tenants[2]).await?;
    let source_counts = table_counts(&source.admin().await).await?;
    let dump = work.path().join("brokerdb.dump");
    succeed(
        "pg_dump",
        Command::new("pg_dump")
            .args(["--format=custom", "--file"])
            .arg(&dump)
            .arg(format!("--dbname={}", source.admin_url())),
    )?;

    // The source goes on: an event after the dump, and a checkpoint that covers it.
    append(&source_db, &tenants[1]).await?;
    let later = work.path().join("later-checkpoints");
    succeed(
        "brokerdb audit checkpoint (after the dump)",
        brokerdb()
            .env("DATABASE_URL", source.admin_url())
            .args(["audit", "checkpoint", "--key"])
            .arg(&key_file)
            .arg("--out")
            .arg(&later),
    )?;

    // Restore into a fresh cluster, same database name (docs/backup.md, "Restoring").
    let target = PrivateCluster::start(false).await?;
    target
        .connect("postgres")
        .await?
        .batch_execute(CREATE_ROLES)
        .await?;
    drop(target.create_database(source.name()).await?);
    let target_url = target.pg.url(source.name());
    succeed(
        "pg_restore",
        Command::new("pg_restore")
            .args(["--exit-on-error", "--single-transaction"])
            .arg(format!("--dbname={target_url}"))
            .arg(&dump),
    )?;
    // The same rows in every table as at the dump.
    let target_client = target.connect(source.name()).await?;
    let target_counts = table_counts(&target_client).await?;
    assert_eq!(target_counts, source_counts);

    // A dump without --create carries no database-level grants: PUBLIC (so brokerdb_app) may
    // create temporary tables again until `brokerdb migrate` revokes that.
    let temporary =
        "SELECT has_database_privilege('brokerdb_app', current_database(), 'TEMPORARY')";
    let before: bool = target_client.query_one(temporary, &[]).await?.get(0);
    assert!(before, "a fresh restore grants TEMPORARY to PUBLIC");
    let migrate = succeed(
        "brokerdb migrate",
        brokerdb().env("DATABASE_URL", &target_url).arg("migrate"),
    )?;
    let after: bool = target_client.query_one(temporary, &[]).await?.get(0);
    assert!(
        !after,
        "brokerdb migrate revokes TEMPORARY on the restored database"
    );
    let doctor = succeed(
        "brokerdb doctor",
        brokerdb().env("DATABASE_URL", &target_url).arg("doctor"),
    )?;
    assert_eq!(
        String::from_utf8_lossy(&doctor.stdout),
        "no drift: the schema is as the migrations made it\n"
    );
    // The row the dump caught unsealed gets its seal (what a started service's sealer does too).
    let seal = succeed(
        "brokerdb audit seal",
        brokerdb()
            .env("DATABASE_URL", &target_url)
            .args(["audit", "seal"]),
    )?;
    assert_eq!(
        String::from_utf8_lossy(&seal.stdout),
        "sealed 1 tenant and 0 system audit rows\n"
    );
    let verify = succeed(
        "brokerdb audit verify",
        brokerdb()
            .env("DATABASE_URL", &target_url)
            .args(["audit", "verify", "--checkpoints"])
            .arg(&checkpoints)
            .args(["--public-key", &public_key]),
    )?;
    let verify_out = String::from_utf8_lossy(&verify.stdout).into_owned();
    let chains = TENANTS + 1;
    let links = TENANTS * EVENTS_PER_TENANT + 1 + 3;
    assert!(
        verify_out.contains(&format!(
            "audit trail intact: {chains} chains, {links} links verified"
        )),
        "{verify_out}"
    );
    assert_eq!(
        verify_out.matches(", extends 1 signed checkpoint").count(),
        chains,
        "{verify_out}"
    );

    // Against a checkpoint taken after the dump, the restored chain is shorter: verify says
    // so (that is the audit history the restore lost), it does not pass.
    let after_dump = brokerdb()
        .env("DATABASE_URL", &target_url)
        .args(["audit", "verify", "--checkpoints"])
        .arg(&later)
        .args(["--public-key", &public_key])
        .output()?;
    let after_dump_out = String::from_utf8_lossy(&after_dump.stdout);
    assert_eq!(after_dump.status.code(), Some(1), "{after_dump_out}");
    assert!(
        after_dump_out.contains(&format!(
            "BROKEN  tenant {}: at chain_seq {}: the chain is shorter than a signed checkpoint",
            tenants[1],
            EVENTS_PER_TENANT + 1
        )),
        "{after_dump_out}"
    );

    // The application on the restored copy: the handle's role checks pass (no TEMPORARY left
    // after `migrate`), reads, a new write, a new audit event sealed onto the restored chain.
    let db = Db::connect(ConnectOptions::from_admin_url(&target_url)?).await?;
    let restored = tenants::list(&mut db.system()).await?;
    assert_eq!(restored.len(), TENANTS);
    let t = &tenants[0];
    let mut scope = db.tenant(t);
    let listed = users::list(
        &mut scope,
        &users::UserFilter::default(),
        Sort::<users::UserSort>::parse("created_at", "asc")?,
        PageRequest::new(1, 50)?,
    )
    .await?;
    assert_eq!(listed.items.len(), USERS_PER_TENANT);
    let consumed = enrollment_tokens::consume_once(
        &mut scope,
        &TokenHash::parse(&"a0".repeat(32))?,
        None,
        Timestamp::now(),
    )
    .await?;
    assert_eq!(consumed.tenant_id, *t);
    let new_user = users::create(&mut scope, &user("after-restore@tenant0.example")?).await?;
    assert_eq!(
        users::get_by_id(&mut scope, &new_user.user_id)
            .await?
            .map(|u| u.email),
        Some("after-restore@tenant0.example".to_owned())
    );
    append(&db, t).await?;
    let sealed = audit::seal_pending(&db.system(), audit::DEFAULT_BATCH).await?;
    assert_eq!(sealed.tenant_links, 1, "{sealed:?}");
    let key = CheckpointKey::from_hex(&public_key)?;
    let walked = verify_all(&db, &tenants, &checkpoints, &key).await?;
    assert_eq!(walked, u64::try_from(links + 1)?);

    println!(
        "backup test: dump {} bytes; restored {} tables, {} rows; `brokerdb migrate`: {}",
        std::fs::metadata(&dump)?.len(),
        target_counts.len(),
        target_counts.iter().map(|(_, n)| n).sum::<i64>(),
        String::from_utf8_lossy(&migrate.stdout).trim()
    );
    println!("backup test: audit verify on the restored copy:\n{verify_out}");
    Ok(())
}
