//! Quickstart: connect, migrate, check readiness, write and read one row in a tenant's scope.
//!
//! ```sh
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo run -p brokerdb-examples --example quickstart
//! ```
//!
//! `DATABASE_URL` is a superuser URL; the example works in its own database
//! `brokerdb_example_quickstart`, which it creates and drops.

use std::process::ExitCode;

use brokerdb::conninfo::ConnInfo;
use brokerdb::db::ConnectOptions;
use brokerdb::migrate::{self, MigrationStatus};
use brokerdb::prelude::*;
use brokerdb::repo::{tenants, workloads};
use brokerdb_examples::Error;

#[tokio::main]
async fn main() -> ExitCode {
    brokerdb_examples::run("quickstart", |url| async move { quickstart(&url).await }).await
}

async fn quickstart(url: &str) -> Result<(), Error> {
    // 1. Migrate: what `brokerdb migrate` does. It connects as the owner or a superuser; the
    //    first run also creates the roles brokerdb_owner, brokerdb_app and brokerdb_system.
    let mut admin = ConnInfo::parse(url)?.connect().await?;
    let applied = migrate::apply_pending(&mut admin).await?;
    println!("migrate: applied {} migrations", applied.len());

    // 2. Connect. The library never reads the environment: it takes connection settings. From an
    //    admin URL, both pools connect as the runtime and system roles (same server, same
    //    database, no password). Db::connect refuses a runtime role that row-level security
    //    would not bind (a superuser, BYPASSRLS, the tables' owner).
    let db = Db::connect(ConnectOptions::from_admin_url(url)?).await?;
    println!("connect: runtime pool as brokerdb_app, system pool as brokerdb_system");

    // 3. Readiness, as `GET /readyz` sees it: every migration applied, both roles answer.
    let statuses = migrate::status(&admin).await?;
    if !MigrationStatus::all_current(&statuses) {
        return Err("not ready: a migration is pending or has changed".into());
    }
    db.system().execute("SELECT 1", &[]).await?;
    println!(
        "ready: {} migrations current, system role answers",
        statuses.len()
    );

    // 4. Write and read. Tenants are global data: the system scope creates them. Everything of a
    //    tenant goes through its tenant scope: the runtime role, with the tenant set for each
    //    transaction, so row-level security shows that tenant's rows only.
    let acme = TenantId::parse("t_acme")?;
    let globex = TenantId::parse("t_globex")?;
    tenants::create(&mut db.system(), "Acme", Some(acme.clone())).await?;
    tenants::create(&mut db.system(), "Globex", Some(globex.clone())).await?;

    let request: workloads::WorkloadCreateRequest = serde_json::from_value(serde_json::json!({
        "name": "billing-service",
        "ip_allowlist": ["10.0.0.0/8", " 192.168.1.7 "],
        "enrollment_mode": "broker_ca"
    }))?;
    let created = workloads::create(&mut db.tenant(&acme), &request, None, None).await?;
    println!(
        "write: workload {} for {} (SAN {}, allowlist {:?})",
        created.workload_id, created.tenant_id, created.mtls_san_uri, created.ip_allowlist
    );

    let read = workloads::get_by_id(&mut db.tenant(&acme), &created.workload_id).await?;
    println!(
        "read as t_acme: {}",
        read.as_ref().map_or("none", |w| w.name.as_str())
    );
    if read.as_ref() != Some(&created) {
        return Err("the workload read back differs from the one written".into());
    }

    // Another tenant's scope does not see it: not an error, just no row.
    let other = workloads::get_by_id(&mut db.tenant(&globex), &created.workload_id).await?;
    println!(
        "read as t_globex: {}",
        other
            .as_ref()
            .map_or("none (row-level security)", |w| w.name.as_str())
    );
    if other.is_some() {
        return Err("another tenant saw the workload".into());
    }

    // Errors carry a stable code and name the field, never the value.
    match workloads::create(&mut db.tenant(&acme), &request, None, None).await {
        Err(e) if e.code() == ErrorCode::UniqueViolation => {
            println!("same name again: {} ({e})", e.code().as_str());
            Ok(())
        }
        Err(e) => Err(e.into()),
        Ok(_) => Err("a second workload with the same name was accepted".into()),
    }
}
