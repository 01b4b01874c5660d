//! `brokerdb seed`: fills a database with a demo data set through the library's repositories
//! and its audit append (never raw inserts), so every row passes the same validation, row-level
//! security and audit rules as the service's own writes.
//!
//! Every id is deterministic (`t_demo_1`, `u_demo_1_17`, …), and every entity is written in one
//! transaction together with its audit events, after checking it is not there yet: a second run
//! writes nothing and says so, and a run that stopped half-way is completed by the next one.

mod demo;
mod write;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use brokerdb::audit;
use brokerdb::db::{CursorKey, Db, DbSettings, PoolRole};
use brokerdb::migrate;
use brokerdb::model::NonEmptyString;
use brokerdb::repo::api_tokens::{self, Actor, ApiTokenRole, NewApiToken};
use clap::Args;
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::ConnectionArgs;
use crate::config::PostgresTarget;
use crate::services::{Postgres, connect, connect_db};

use demo::DemoTenant;
use write::Outcome;

/// Users written at the same time (each its own transaction); the pools have one more
/// connection.
const CONCURRENCY: usize = 4;

/// Options of `brokerdb seed`.
#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    /// Demo tenants to create: t_demo_1 … t_demo_N.
    #[arg(long, env = "SEED_TENANTS", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub tenants: u32,
    /// Human users per tenant: `u_demo_<tenant>_1` (the owner) … `u_demo_<tenant>_<N>`.
    #[arg(long, env = "SEED_USERS", default_value_t = 200,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub users: u32,
    /// 64 hex characters: the key the demo project's webhook secret is encrypted under; give
    /// the service the same PROJECT_SECRET_KEY so it can verify deliveries. Without it a random
    /// key is used (the service then refuses the demo project's deliveries).
    #[arg(long, env = "PROJECT_SECRET_KEY", hide_env_values = true,
          value_parser = crate::config::secret)]
    pub project_secret_key: Option<secrecy::SecretString>,
    /// Where PostgreSQL is.
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// `brokerdb seed`'s configuration, checked before any I/O.
#[derive(Debug, Clone)]
pub struct SeedConfig {
    /// Where PostgreSQL is.
    pub postgres: PostgresTarget,
    /// Tenants to seed.
    pub tenants: usize,
    /// Users per tenant.
    pub users: usize,
    /// Encrypts the demo project's webhook secret.
    pub project_key: brokerdb_projects::SecretKey,
}

impl SeedArgs {
    /// The checked configuration, or the first bad value's error (naming its variable, never
    /// quoting it).
    pub fn config(&self) -> anyhow::Result<SeedConfig> {
        Ok(SeedConfig {
            postgres: PostgresTarget::from_args(&self.connection)?,
            tenants: usize::try_from(self.tenants)?,
            users: usize::try_from(self.users)?,
            project_key: crate::commands::serve::project_key(self.project_secret_key.as_ref())?,
        })
    }
}

/// What one kind of row came to: written now, or found from an earlier run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    /// Written by this run.
    pub created: u64,
    /// Already there.
    pub present: u64,
}

impl Count {
    fn add(&mut self, outcome: Outcome, rows: u64) {
        match outcome {
            Outcome::Created => self.created += rows,
            Outcome::Present => self.present += rows,
        }
    }
}

/// The kinds of rows the seed writes, in the order the summary lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Tenants.
    Tenants,
    /// Human users (with their roles).
    Users,
    /// Workloads.
    Workloads,
    /// Published template versions.
    TemplateVersions,
    /// Integrations.
    Integrations,
    /// Policy rules.
    PolicyRules,
    /// Approval requests.
    Approvals,
    /// Tenant audit events.
    AuditEvents,
    /// System audit events.
    SystemAuditEvents,
    /// Projects of the project store.
    Projects,
    /// Their artifacts.
    Artifacts,
}

impl Kind {
    /// Every kind, in summary order.
    pub const ALL: [Self; 11] = [
        Self::Tenants,
        Self::Users,
        Self::Workloads,
        Self::TemplateVersions,
        Self::Integrations,
        Self::PolicyRules,
        Self::Approvals,
        Self::AuditEvents,
        Self::SystemAuditEvents,
        Self::Projects,
        Self::Artifacts,
    ];

    /// The summary's label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Tenants => "tenants",
            Self::Users => "users",
            Self::Workloads => "workloads",
            Self::TemplateVersions => "template versions",
            Self::Integrations => "integrations",
            Self::PolicyRules => "policy rules",
            Self::Approvals => "approvals",
            Self::AuditEvents => "audit events",
            Self::SystemAuditEvents => "system audit events",
            Self::Projects => "projects",
            Self::Artifacts => "artifacts",
        }
    }
}

/// The counts of one run, by [`Kind`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally([Count; Kind::ALL.len()]);

impl Tally {
    fn add(&mut self, kind: Kind, outcome: Outcome, rows: u64) {
        self.0[kind as usize].add(outcome, rows);
    }

    /// The count of `kind`.
    pub fn get(&self, kind: Kind) -> Count {
        self.0[kind as usize]
    }
}

/// Seeds `--tenants` demo tenants with `--users` users each on DATABASE_URL (migrated first
/// when it is an admin URL), or on the embedded cluster under `--data-dir`, then seals the
/// audit rows and prints a summary.
pub async fn run(args: SeedArgs) -> anyhow::Result<ExitCode> {
    let config = args.config()?;
    let started = Instant::now();
    let postgres = Postgres::start(&config.postgres).await?;
    let applied = migrate_external(&postgres).await?;
    let pool_size = u16::try_from(CONCURRENCY + 1).unwrap_or(u16::MAX);
    let db = connect_db(
        &postgres.targets,
        pool_size,
        DbSettings::default(),
        CursorKey::random(),
        PoolRole::Runtime,
    )
    .await?;
    let tenants = (1..=config.tenants)
        .map(DemoTenant::new)
        .collect::<Result<Vec<_>, _>>()?;
    let progress = progress_bar(steps(&tenants, config.users) + 1);
    let mut tally = Tally::default();
    for tenant in &tenants {
        seed_tenant(
            &db,
            &config.project_key,
            tenant,
            config.users,
            &progress,
            &mut tally,
        )
        .await
        .with_context(|| format!("cannot seed tenant {}", tenant.id))?;
    }
    progress.set_message("sealing the audit trail");
    let sealed = audit::seal_pending(&db.system(), audit::DEFAULT_BATCH)
        .await
        .context("cannot seal the audit rows")?;
    progress.inc(1);
    progress.finish_and_clear();
    print!(
        "{}",
        summary(&tenants, config.users, &tally, applied, started.elapsed())
    );
    if sealed.busy {
        println!("audit trail: another sealer (the service?) seals the new rows");
    } else {
        println!(
            "audit trail: sealed {} tenant and {} system rows",
            sealed.tenant_links, sealed.system_links
        );
    }
    let tokens = issue_tokens(&db, &tenants)
        .await
        .context("cannot issue the demo admin tokens")?;
    print!("{}", tenant_lines(&tenants, &tokens));
    Ok(ExitCode::SUCCESS)
}

/// The subject of the admin tokens the seed issues.
const SEED_SUBJECT: &str = "seed";

/// A fresh admin API token per tenant (subject `seed`); the tokens an earlier run issued are
/// revoked, so only the newest printed ones work.
async fn issue_tokens(db: &Db, tenants: &[DemoTenant]) -> anyhow::Result<Vec<String>> {
    let by = Actor {
        actor: NonEmptyString::new("actor", SEED_SUBJECT)?,
        correlation_id: NonEmptyString::new("correlation_id", &uuid::Uuid::new_v4().to_string())?,
    };
    let mut out = Vec::with_capacity(tenants.len());
    for tenant in tenants {
        for old in api_tokens::list(&mut db.system(), Some(&tenant.id)).await? {
            if old.subject == SEED_SUBJECT && old.revoked_at.is_none() {
                api_tokens::revoke(&mut db.system(), &old.token_id, &by).await?;
            }
        }
        let new = NewApiToken {
            tenant_id: Some(tenant.id.clone()),
            role: ApiTokenRole::Admin,
            subject: NonEmptyString::new("subject", SEED_SUBJECT)?,
            expires_at: None,
        };
        let issued = api_tokens::create(&mut db.system(), &new, &by).await?;
        out.push(issued.secret.expose().to_owned());
    }
    Ok(out)
}

/// An external database reached with an admin URL is migrated first, as `brokerdb migrate`
/// would (the embedded one was migrated on start); returns how many migrations were applied.
async fn migrate_external(postgres: &Postgres) -> anyhow::Result<usize> {
    let (None, Some(admin)) = (&postgres.embedded, &postgres.targets.admin) else {
        return Ok(0);
    };
    let mut client = connect(admin).await?;
    let applied = migrate::apply_sets(&mut client, &crate::schema::migration_sets()).await?;
    Ok(applied.len())
}

/// Progress steps of the whole run: one per entity, per call and per tenant.
fn steps(tenants: &[DemoTenant], users: usize) -> u64 {
    let per_tenant = |t: &DemoTenant| {
        let versions: usize = demo::APIS.iter().map(|a| a.versions as usize).sum();
        let rules: usize = demo::APIS.iter().map(|a| a.policy_rules(t).len()).sum();
        1 + users
            + demo::workloads(t).len()
            + versions
            + demo::APIS.len()
            + rules
            + demo::approvals(t).len()
            + demo::CALLS
            + 1
            + demo::artifacts().len()
    };
    tenants.iter().map(|t| per_tenant(t) as u64).sum()
}

/// A bar on stderr (hidden when stderr is not a terminal).
fn progress_bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let style =
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Every entity of one tenant, in dependency order: the tenant, its users, workloads, template
/// versions, integrations, policy rules, approvals, then the calls its workloads made.
async fn seed_tenant(
    db: &Db,
    project_key: &brokerdb_projects::SecretKey,
    tenant: &DemoTenant,
    users: usize,
    progress: &ProgressBar,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let step = |what: &str| progress.set_message(format!("{} {what}", tenant.id));
    step("tenant");
    let outcome = write::tenant(db, tenant).await.context("tenant")?;
    tally.add(Kind::Tenants, outcome, 1);
    tally.add(Kind::SystemAuditEvents, outcome, 1);
    progress.inc(1);

    step("users");
    let mut written = futures_util::stream::iter((1..=users).map(|j| {
        let user = demo::user(tenant, j);
        async move {
            write::user(db, tenant, &user)
                .await
                .with_context(|| format!("user {}", user.id))
        }
    }))
    .buffer_unordered(CONCURRENCY);
    while let Some(outcome) = written.next().await {
        let outcome = outcome?;
        tally.add(Kind::Users, outcome, 1);
        tally.add(Kind::AuditEvents, outcome, 1);
        progress.inc(1);
    }

    step("workloads");
    for workload in demo::workloads(tenant) {
        let outcome = write::workload(db, tenant, &workload)
            .await
            .with_context(|| format!("workload {}", workload.id))?;
        tally.add(Kind::Workloads, outcome, 1);
        tally.add(Kind::AuditEvents, outcome, 1);
        progress.inc(1);
    }

    step("templates and integrations");
    for api in demo::APIS {
        for version in 1..=api.versions {
            let outcome = write::template_version(db, tenant, api, version)
                .await
                .with_context(|| format!("template {} version {version}", api.template_id))?;
            tally.add(Kind::TemplateVersions, outcome, 1);
            tally.add(Kind::AuditEvents, outcome, 1);
            progress.inc(1);
        }
        let outcome = write::integration(db, tenant, api)
            .await
            .with_context(|| format!("integration {}", api.integration_id(tenant)))?;
        tally.add(Kind::Integrations, outcome, 1);
        tally.add(Kind::AuditEvents, outcome, 1);
        progress.inc(1);
    }

    step("policy rules");
    for api in demo::APIS {
        for rule in api.policy_rules(tenant) {
            let outcome = write::policy_rule(db, tenant, &rule)
                .await
                .with_context(|| {
                    format!("policy rule {}", rule.policy_id.as_deref().unwrap_or("?"))
                })?;
            tally.add(Kind::PolicyRules, outcome, 1);
            tally.add(Kind::AuditEvents, outcome, 1);
            progress.inc(1);
        }
    }

    step("approvals");
    for approval in demo::approvals(tenant) {
        let outcome = write::approval(db, tenant, &approval)
            .await
            .with_context(|| format!("approval {}", approval.id))?;
        tally.add(Kind::Approvals, outcome, 1);
        tally.add(
            Kind::AuditEvents,
            outcome,
            1 + approval.steps().len() as u64,
        );
        progress.inc(1);
    }

    step("calls");
    for call in demo::calls(tenant) {
        let outcome = write::call(db, tenant, &call)
            .await
            .with_context(|| format!("audit event {}", call.event_id))?;
        tally.add(Kind::AuditEvents, outcome, 2);
        progress.inc(1);
    }

    step("project");
    let (outcome, project) = write::project(db, project_key, tenant)
        .await
        .context("project")?;
    tally.add(Kind::Projects, outcome, 1);
    progress.inc(1);
    for artifact in demo::artifacts() {
        let outcome = write::artifact(db, tenant, &project, &artifact)
            .await
            .with_context(|| format!("artifact {}", artifact.path))?;
        tally.add(Kind::Artifacts, outcome, 1);
        progress.inc(1);
    }
    Ok(())
}

/// The table of what was written and what was found.
fn summary(
    tenants: &[DemoTenant],
    users: usize,
    tally: &Tally,
    applied: usize,
    elapsed: Duration,
) -> String {
    let mut out = format!(
        "brokerdb seed: {} demo tenant{} with {users} user{} each ({:.1} s)",
        tenants.len(),
        if tenants.len() == 1 { "" } else { "s" },
        if users == 1 { "" } else { "s" },
        elapsed.as_secs_f64()
    );
    if applied > 0 {
        out.push_str(&format!(" ({applied} migrations applied first)"));
    }
    out.push('\n');
    out.push_str(&format!(
        "{:<20} {:>8} {:>14}\n",
        "", "created", "already there"
    ));
    for kind in Kind::ALL {
        let c = tally.get(kind);
        out.push_str(&format!(
            "{:<20} {:>8} {:>14}\n",
            kind.label(),
            c.created,
            c.present
        ));
    }
    out
}

/// One line per tenant: its id, name and owner user, then its admin API token (shown once;
/// `tokens[i]` is tenant `i`'s).
fn tenant_lines(tenants: &[DemoTenant], tokens: &[String]) -> String {
    let mut out = String::from("tenants (with an admin API token each, shown only now):\n");
    for (i, t) in tenants.iter().enumerate() {
        let owner = demo::user(t, 1);
        out.push_str(&format!(
            "  {:<12} {:<18} owner {} <{}>\n    token {}\n",
            t.id.as_str(),
            t.name,
            owner.id,
            owner.email,
            tokens.get(i).map_or("-", String::as_str)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_says_what_was_created_and_what_was_there() -> anyhow::Result<()> {
        let tenants = vec![DemoTenant::new(1)?, DemoTenant::new(2)?];
        let mut tally = Tally::default();
        tally.add(Kind::Users, Outcome::Created, 3);
        tally.add(Kind::Users, Outcome::Present, 2);
        let text = summary(&tenants, 5, &tally, 0, Duration::from_millis(1500));
        assert!(
            text.starts_with("brokerdb seed: 2 demo tenants with 5 users each (1.5 s)\n"),
            "{text}"
        );
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().eq(["users", "3", "2"])),
            "{text}"
        );
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().eq(["tenants", "0", "0"])),
            "{text}"
        );
        let lines = tenant_lines(&tenants, &["bdb_1_x".to_owned(), "bdb_2_y".to_owned()]);
        assert!(lines.contains("    token bdb_2_y"), "{lines}");
        assert!(lines.contains("t_demo_1     Acme Corp"), "{lines}");
        assert!(lines.contains("owner u_demo_2_1 <"), "{lines}");
        Ok(())
    }

    #[test]
    fn a_tenant_takes_one_step_per_entity() -> anyhow::Result<()> {
        let t = vec![DemoTenant::new(1)?];
        let fixed = steps(&t, 0);
        assert_eq!(steps(&t, 10), fixed + 10);
        assert_eq!(
            steps(&[DemoTenant::new(1)?, DemoTenant::new(2)?], 10),
            2 * (fixed + 10)
        );
        Ok(())
    }
}
