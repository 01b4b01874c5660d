//! `brokerdb doctor`: the live schema against the one the migrations promise. Prints each drift
//! with the playbook that repairs it and exits 1 when there is any, 0 when the schema is clean.
//! It only reads the catalogs, so the console's guards do not apply: it works in production
//! too (it needs the admin connection, as `brokerdb migrate` does).

use std::process::ExitCode;

use anyhow::Context;
use brokerdb_repair::{DoctorReport, RepairConsole, RepairSettings};
use clap::Args;

use crate::cli::ConnectionArgs;
use crate::commands::table;
use crate::config::PostgresTarget;
use crate::services::Postgres;

/// Options of `brokerdb doctor`.
#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    /// Print the report as JSON (`{"drifts": [{kind, object, detail, playbook}]}`) instead of a
    /// table.
    #[arg(long)]
    pub json: bool,
    /// Where PostgreSQL is (DATABASE_URL's admin role, or the embedded cluster's).
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Runs `brokerdb doctor`.
pub async fn run(args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let target = PostgresTarget::from_args(&args.connection)?;
    let postgres = Postgres::start(&target).await?;
    let admin = postgres.targets.admin.clone().context(
        "brokerdb doctor reads the catalogs as the admin: set DATABASE_URL (an owner or superuser)",
    )?;
    let console = RepairConsole::new(admin, RepairSettings::default())
        .context("the expected schema cannot be loaded")?;
    let report = console.doctor().await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report_text(&report));
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The drifts as a table and a line on how to repair them, or the line that says none.
fn report_text(report: &DoctorReport) -> String {
    if report.is_clean() {
        return "no drift: the schema is as the migrations made it\n".to_owned();
    }
    let mut rows = vec![[
        "KIND".to_owned(),
        "OBJECT".to_owned(),
        "DETAIL".to_owned(),
        "PLAYBOOK".to_owned(),
    ]];
    for d in &report.drifts {
        rows.push([
            d.kind.to_owned(),
            d.object.clone(),
            d.detail.clone(),
            d.playbook.unwrap_or("-").to_owned(),
        ]);
    }
    let mut out = table::render(&rows);
    out.push_str(&format!(
        "\n{} drift(s). Repair with the named playbook: `brokerdb repair preview ID`, then \
         `brokerdb repair execute ID --hash HASH`; `-` has no playbook and needs a person.\n",
        report.drifts.len()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use brokerdb_repair::Drift;

    #[test]
    fn the_report_names_each_drift_with_its_playbook() {
        assert!(report_text(&DoctorReport::default()).starts_with("no drift"));
        let report = DoctorReport {
            drifts: vec![
                Drift {
                    kind: "index",
                    object: "index:idx_jobs_finished".into(),
                    detail: "missing".into(),
                    playbook: Some("R-001"),
                },
                Drift {
                    kind: "table",
                    object: "table:x".into(),
                    detail: "unexpected".into(),
                    playbook: None,
                },
            ],
        };
        let text = report_text(&report);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "KIND   OBJECT                   DETAIL      PLAYBOOK"
        );
        assert_eq!(
            lines[1],
            "index  index:idx_jobs_finished  missing     R-001"
        );
        assert_eq!(lines[2], "table  table:x                  unexpected  -");
        assert!(lines[4].starts_with("2 drift(s)."), "{text}");
    }
}
