//! `brokerdb audit verify [--tenant T]`: walks the audit hash chains and reports the first
//! broken link of each.

use std::process::ExitCode;

use anyhow::Context;
use brokerdb::audit::{self, ChainReport};
use brokerdb::db::{CursorKey, Db, DbSettings};
use brokerdb::model::TenantId;

use crate::cli::{AuditAction, AuditArgs, AuditVerifyArgs};
use crate::services::{Postgres, check_pool, pool};

/// Runs an `audit` subcommand.
pub async fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    match args.action {
        AuditAction::Verify(args) => verify(args).await,
    }
}

/// One line for a chain: `ok` with its length, or `BROKEN` with the first broken link.
fn line(chain: &str, report: &ChainReport) -> String {
    match &report.first_broken {
        None => format!("ok      {chain}: {} links", report.links),
        Some(b) => format!(
            "BROKEN  {chain}: first broken link at chain_seq {}{}: {}",
            b.chain_seq,
            b.event_id
                .as_ref()
                .map(|e| format!(" (event_id {e})"))
                .unwrap_or_default(),
            b.reason
        ),
    }
}

async fn verify(args: AuditVerifyArgs) -> anyhow::Result<ExitCode> {
    let only = args
        .tenant
        .as_deref()
        .map(TenantId::parse)
        .transpose()
        .context("--tenant is not a valid tenant id")?;
    let postgres = Postgres::start(&args.connection).await?;
    // Only the system role (BYPASSRLS, read-only here) is used; the runtime pool stays empty.
    let system = pool(&postgres.targets.system, 2)?;
    check_pool(&system, &postgres.targets.system).await?;
    let runtime = pool(&postgres.targets.runtime, 1)?;
    let db = Db::new(runtime, system, DbSettings::default(), CursorKey::random());
    let tenants = match &only {
        Some(t) => vec![t.clone()],
        None => audit::chained_tenants(&db.system())
            .await
            .context("cannot list the tenants")?,
    };
    let (mut chains, mut broken, mut links) = (0, 0, 0);
    for t in &tenants {
        let report = audit::verify_tenant_chain(&db.system(), t)
            .await
            .with_context(|| format!("cannot read the audit chain of tenant {t}"))?;
        println!("{}", line(&format!("tenant {t}"), &report));
        chains += 1;
        links += report.links;
        broken += usize::from(!report.is_valid());
    }
    if only.is_none() {
        let report = audit::verify_system_chain(&db.system())
            .await
            .context("cannot read the system audit chain")?;
        println!("{}", line("system", &report));
        chains += 1;
        links += report.links;
        broken += usize::from(!report.is_valid());
    }
    if broken == 0 {
        println!("audit trail intact: {chains} chains, {links} links verified");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("audit trail BROKEN: {broken} of {chains} chains");
        Ok(ExitCode::FAILURE)
    }
}
