//! `brokerdb repair list | preview ID | execute ID --hash H | runs`: the database repair console
//! on the command line.
//!
//! The principal is the OS user, `os:<user>`; the guards are the service's (BROKERDB_ENV staging
//! or development, the principal in BROKERDB_REPAIR_ADMINS) and are checked before any
//! connection is made. A refusal prints its reason and exits 2. The console connects like
//! `brokerdb migrate`: DATABASE_URL, or the embedded cluster under --data-dir.

use std::process::ExitCode;

use anyhow::Context;
use brokerdb::db::Db;
use brokerdb_repair::GuardError;
use clap::{Args, Subcommand};

use crate::cli::ConnectionArgs;
use crate::commands::table;
use crate::config::PostgresTarget;
use crate::ops::principal::os_principal;
use crate::ops::service;
use crate::ops::settings::ConsoleArgs;
use crate::ops::wire::{ExecuteOut, PreviewOut, RepairListOut, RunStatusOut, RunsOut};
use crate::ops::{OpsError, OpsState};
use crate::services::{Postgres, open_system};

/// Options of `brokerdb repair`.
#[derive(Debug, Clone, Args)]
pub struct RepairArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: RepairAction,
    /// Where PostgreSQL is (the console works through DATABASE_URL's admin role, or the
    /// embedded cluster's).
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// The console's guards and timeouts.
    #[command(flatten)]
    pub console: ConsoleArgs,
}

/// Subcommands of `brokerdb repair`.
#[derive(Debug, Clone, Subcommand)]
pub enum RepairAction {
    /// List the repair playbooks: id, title, statement count and the hash to confirm.
    List,
    /// Show what executing a playbook would do (its statements, which required objects are
    /// missing now) without writing anything.
    Preview {
        /// The playbook's id, e.g. R-001.
        id: String,
    },
    /// Execute a playbook, confirmed by the hash its preview shows: pre check, statements and
    /// post check in one transaction, recorded in the run ledger. Exits 1 when the run failed
    /// (and was rolled back).
    Execute {
        /// The playbook's id, e.g. R-001.
        id: String,
        /// The playbook's hash as `brokerdb repair preview` shows it (64 hex digits); another
        /// hash is refused.
        #[arg(long)]
        hash: String,
    },
    /// List recorded runs, newest first.
    Runs {
        /// How many runs to show (1..=200).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i64).range(1..=200))]
        limit: i64,
        /// The cursor printed after the previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
}

/// The console as a command holds it: the OS user that passed guards 1–3, the console over the
/// admin connection, and the data layer (system role) for the ledger.
pub struct CliConsole {
    /// `os:<user>`.
    pub principal: String,
    /// The console.
    pub ops: OpsState,
    /// The data layer.
    pub db: Db,
    /// The servers (an embedded cluster stops when this is dropped).
    _postgres: Postgres,
}

/// Checks guards 1–3 for the OS user before any I/O (a refusal is `Ok(Err)`), then connects.
pub async fn open(
    connection: &ConnectionArgs,
    console: &ConsoleArgs,
) -> anyhow::Result<Result<CliConsole, GuardError>> {
    let settings = console.settings()?;
    let target = PostgresTarget::from_args(connection)?;
    let principal = os_principal();
    if let Err(refusal) = settings.guards.check(Some(&principal)) {
        return Ok(Err(refusal));
    }
    let (postgres, db) = open_system(&target, 2).await?;
    let ops = OpsState::new(settings, postgres.targets.admin.clone())
        .context("the repair playbooks cannot be loaded")?;
    Ok(Ok(CliConsole {
        principal,
        ops,
        db,
        _postgres: postgres,
    }))
}

/// Prints a guard's refusal and returns exit code 2.
pub fn refused(refusal: &GuardError) -> ExitCode {
    eprintln!("error: {refusal}");
    ExitCode::from(2)
}

/// A failed operation as the command ends: a guard's refusal exits 2, anything else is an error.
pub fn failed(err: OpsError) -> anyhow::Result<ExitCode> {
    match err {
        OpsError::Guard(refusal) => Ok(refused(&refusal)),
        other => Err(anyhow::Error::new(other)),
    }
}

/// Runs a `repair` subcommand.
pub async fn run(args: RepairArgs) -> anyhow::Result<ExitCode> {
    let console = match open(&args.connection, &args.console).await? {
        Ok(console) => console,
        Err(refusal) => return Ok(refused(&refusal)),
    };
    let (ops, who) = (&console.ops, Some(console.principal.as_str()));
    let done = match args.action {
        RepairAction::List => service::list(ops, who).map(|l| print!("{}", list_table(&l))),
        RepairAction::Preview { id } => service::preview(ops, who, &id)
            .await
            .map(|p| print!("{}", preview_text(&p))),
        RepairAction::Execute { id, hash } => {
            let request_id = format!("cli-{}", uuid::Uuid::new_v4());
            return match service::execute(ops, who, &id, &hash, &request_id).await {
                Ok(outcome) => {
                    print!("{}", outcome_text(&outcome));
                    Ok(match outcome.status {
                        RunStatusOut::Success => ExitCode::SUCCESS,
                        RunStatusOut::Failed => ExitCode::FAILURE,
                    })
                }
                Err(e) => failed(e),
            };
        }
        RepairAction::Runs { limit, cursor } => {
            service::runs(ops, &console.db, who, Some(limit), cursor.as_deref())
                .await
                .map(|page| {
                    print!("{}", runs_table(&page));
                    if let Some(next) = &page.next_cursor {
                        eprintln!("more runs: --cursor {next}");
                    }
                })
        }
    };
    match done {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => failed(e),
    }
}

/// The playbooks as a table.
fn list_table(list: &RepairListOut) -> String {
    let mut rows = vec![[
        "ID".to_owned(),
        "TITLE".to_owned(),
        "STATEMENTS".to_owned(),
        "HASH".to_owned(),
    ]];
    for r in &list.repairs {
        rows.push([
            r.id.clone(),
            r.title.clone(),
            r.statement_count.to_string(),
            r.hash.clone(),
        ]);
    }
    table::render(&rows)
}

/// A list of objects, `-` when empty.
fn objects(list: &[String]) -> String {
    if list.is_empty() {
        "-".to_owned()
    } else {
        list.join(", ")
    }
}

/// `N object(s); missing now: …` (the full lists are in the JSON API's preview).
fn counted(all: &[String], missing: &[String]) -> String {
    format!("{} object(s); missing now: {}", all.len(), objects(missing))
}

/// The most characters of a statement a preview line shows.
const SQL_WIDTH: usize = 100;

/// A preview: the playbook, its required objects and what is missing, and its plan.
fn preview_text(p: &PreviewOut) -> String {
    let mut out = format!("{}  {}\n{}\n\n", p.id, p.title, p.description);
    let fields = [
        ["hash".to_owned(), p.hash.clone()],
        ["statements".to_owned(), p.statement_count.to_string()],
        [
            "required before".to_owned(),
            counted(&p.required_before, &p.required_before_missing),
        ],
        [
            "restores".to_owned(),
            counted(&p.required_after, &p.required_after_missing),
        ],
    ];
    out.push_str(&table::render(&fields));
    out.push('\n');
    let mut plan = vec![["#".to_owned(), "STATEMENT".to_owned()]];
    for step in &p.plan {
        let one_line = step.sql.split_whitespace().collect::<Vec<_>>().join(" ");
        plan.push([
            step.position.to_string(),
            table::cut(Some(&one_line), SQL_WIDTH),
        ]);
    }
    out.push_str(&table::render(&plan));
    out.push_str(&format!(
        "\nexecute with: brokerdb repair execute {} --hash {}\n",
        p.id, p.hash
    ));
    out
}

/// The status as the ledger spells it.
fn status(s: RunStatusOut) -> &'static str {
    match s {
        RunStatusOut::Success => "SUCCESS",
        RunStatusOut::Failed => "FAILED",
    }
}

/// An execution's result.
fn outcome_text(o: &ExecuteOut) -> String {
    let mut rows = vec![
        ["status".to_owned(), status(o.status).to_owned()],
        ["run".to_owned(), o.repair_run_id.clone()],
        ["summary".to_owned(), o.summary.clone()],
        ["missing before".to_owned(), objects(&o.pre_missing)],
        ["missing after".to_owned(), objects(&o.post_missing)],
        ["restored".to_owned(), objects(&o.restored)],
    ];
    if let Some(code) = &o.error_code {
        rows.push(["error".to_owned(), code.clone()]);
    }
    if let Some(message) = &o.error_message {
        rows.push(["message".to_owned(), message.clone()]);
    }
    table::render(&rows)
}

/// The most characters of a summary the runs table shows.
const SUMMARY_WIDTH: usize = 60;

/// A page of the ledger as a table.
fn runs_table(page: &RunsOut) -> String {
    let mut rows = vec![[
        "EXECUTED_AT".to_owned(),
        "RUN".to_owned(),
        "REPAIR".to_owned(),
        "STATUS".to_owned(),
        "BY".to_owned(),
        "ENV".to_owned(),
        "SUMMARY".to_owned(),
    ]];
    for r in &page.items {
        rows.push([
            r.executed_at.clone(),
            r.id.clone(),
            r.repair_id.clone(),
            status(r.status).to_owned(),
            r.executed_by.clone(),
            r.deployment_env.clone(),
            table::cut(Some(&r.summary), SUMMARY_WIDTH),
        ]);
    }
    table::render(&rows)
}
