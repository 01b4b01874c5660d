//! `brokerdb audit …`: seal the audit chains, sign checkpoints of their heads, and verify them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use brokerdb::audit::checkpoint::{self, LoadedCheckpoint, database_name, read_checkpoints};
use brokerdb::audit::{
    self, ChainReport, CheckpointKey, CheckpointSet, CheckpointSigner, VerifyOptions,
};

use brokerdb::model::TenantId;
use clap::{Args, Subcommand};

use crate::cli::ConnectionArgs;
use crate::config::PostgresTarget;
use crate::services::open_system;

/// Options of `brokerdb audit`.
#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: AuditAction,
}

/// Subcommands of `brokerdb audit`.
#[derive(Debug, Clone, Subcommand)]
pub enum AuditAction {
    /// Walk the audit chains (every tenant's and the system events', or one tenant's) as the
    /// system role, recomputing every link in Rust. Prints one line per chain; for a broken
    /// chain, the first problem with its position and event id. Exits 0 when every chain is
    /// intact and 1 otherwise: a row edited or deleted, a seal deleted or rewritten, a row left
    /// unsealed beyond the maximum merge delay, or (with --checkpoints) a chain that no longer
    /// extends a signed checkpoint (rewound, or rewritten and re-hashed by an administrator).
    Verify(AuditVerifyArgs),
    /// Sign the current head of every chain and write the checkpoints outside the database
    /// (a new file in --out, or stdout with --out -). Verify against them later with
    /// `audit verify --checkpoints`.
    Checkpoint(AuditCheckpointArgs),
    /// Create a new Ed25519 checkpoint signing key in FILE (mode 0600, never overwritten) and
    /// print its public key, which `audit verify --public-key` takes.
    Keygen(AuditKeygenArgs),
    /// Seal every unsealed audit row now (what `serve` does continuously), then print how many.
    Seal(AuditSealArgs),
}

/// Options of `brokerdb audit verify`.
#[derive(Debug, Clone, Args)]
pub struct AuditVerifyArgs {
    /// Verify only this tenant's chain (default: every tenant and the system chain).
    #[arg(long)]
    pub tenant: Option<String>,
    /// A checkpoint file, or a directory of them (`*.jsonl`), that every chain must extend.
    /// Every checkpoint's signature must verify with --public-key.
    #[arg(long, env = "AUDIT_CHECKPOINTS", requires = "public_key")]
    pub checkpoints: Option<PathBuf>,
    /// The checkpoint public key: 64 hex digits, as `audit keygen` prints it.
    #[arg(long, env = "AUDIT_CHECKPOINT_PUBLIC_KEY")]
    pub public_key: Option<String>,
    /// How long a row may wait for its seal before verify counts it as a failure, e.g. `1s`,
    /// `500ms`.
    #[arg(long, env = "AUDIT_MAX_MERGE_DELAY", default_value = "1s", value_parser = humantime::parse_duration)]
    pub max_merge_delay: Duration,
    /// Where PostgreSQL is.
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Options of `brokerdb audit checkpoint`.
#[derive(Debug, Clone, Args)]
pub struct AuditCheckpointArgs {
    /// The signing key file (64 hex digits, mode 0600), as `audit keygen` writes it.
    #[arg(long, env = "AUDIT_CHECKPOINT_KEY_FILE")]
    pub key: PathBuf,
    /// Directory to write the checkpoint file into (created if missing), or `-` for stdout.
    #[arg(long, env = "AUDIT_CHECKPOINT_DIR")]
    pub out: PathBuf,
    /// Seal unsealed rows first, so the checkpoint covers everything committed so far.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub seal_first: bool,
    /// Where PostgreSQL is.
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Options of `brokerdb audit keygen`.
#[derive(Debug, Clone, Args)]
pub struct AuditKeygenArgs {
    /// The key file to create; keep it outside the database's host if you can.
    #[arg(long)]
    pub out: PathBuf,
}

/// Options of `brokerdb audit seal`.
#[derive(Debug, Clone, Args)]
pub struct AuditSealArgs {
    /// Rows sealed per transaction.
    #[arg(long, default_value_t = brokerdb::audit::DEFAULT_BATCH,
          value_parser = clap::value_parser!(i64).range(1..=100_000))]
    pub batch: i64,
    /// Where PostgreSQL is.
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// `brokerdb audit verify`'s configuration, checked (and its checkpoint files read) before
/// any server is started or reached.
#[derive(Debug)]
pub struct AuditVerifyConfig {
    /// Where PostgreSQL is.
    pub postgres: PostgresTarget,
    /// The one tenant to verify, or every chain.
    pub tenant: Option<TenantId>,
    /// The checkpoints every chain must extend, with where they came from and the key they
    /// must verify with.
    pub checkpoints: Option<(PathBuf, Vec<LoadedCheckpoint>, CheckpointKey)>,
    /// How long a row may wait for its seal.
    pub max_merge_delay: Duration,
}

impl AuditVerifyArgs {
    /// The checked configuration, or the first bad value's error (naming its flag or variable).
    pub fn config(&self) -> anyhow::Result<AuditVerifyConfig> {
        let tenant = self
            .tenant
            .as_deref()
            .map(TenantId::parse)
            .transpose()
            .context("--tenant is not a valid tenant id")?;
        let key = self
            .public_key
            .as_deref()
            .map(CheckpointKey::from_hex)
            .transpose()
            .context("AUDIT_CHECKPOINT_PUBLIC_KEY cannot be used")?;
        let checkpoints = match (&self.checkpoints, key) {
            (Some(path), Some(key)) => Some((
                path.clone(),
                read_checkpoints(path).context("AUDIT_CHECKPOINTS cannot be read")?,
                key,
            )),
            _ => None,
        };
        Ok(AuditVerifyConfig {
            postgres: PostgresTarget::from_args(&self.connection)?,
            tenant,
            checkpoints,
            max_merge_delay: self.max_merge_delay,
        })
    }
}

/// `brokerdb audit checkpoint`'s configuration, checked (its key read) before any I/O.
#[derive(Debug)]
pub struct AuditCheckpointConfig {
    /// Where PostgreSQL is.
    pub postgres: PostgresTarget,
    /// The signing key (`Debug` does not show it).
    pub signer: CheckpointSigner,
    /// Directory to write into, or `-` for stdout.
    pub out: PathBuf,
    /// Seal unsealed rows first.
    pub seal_first: bool,
}

impl AuditCheckpointArgs {
    /// The checked configuration, or the first bad value's error (naming its variable).
    pub fn config(&self) -> anyhow::Result<AuditCheckpointConfig> {
        Ok(AuditCheckpointConfig {
            signer: CheckpointSigner::read_file(&self.key)
                .context("AUDIT_CHECKPOINT_KEY_FILE cannot be used")?,
            postgres: PostgresTarget::from_args(&self.connection)?,
            out: self.out.clone(),
            seal_first: self.seal_first,
        })
    }
}

/// Runs an `audit` subcommand, its configuration checked first.
pub async fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    match args.action {
        AuditAction::Verify(args) => verify(args.config()?).await,
        AuditAction::Checkpoint(args) => write_checkpoint(args.config()?).await,
        AuditAction::Keygen(args) => keygen(&args),
        AuditAction::Seal(args) => {
            let postgres = PostgresTarget::from_args(&args.connection)?;
            seal(&postgres, args.batch).await
        }
    }
}

/// One line for a chain: `ok` with its length, or `BROKEN` with the first problem.
fn line(chain: &str, report: &ChainReport) -> String {
    let checkpoints = match report.checkpoints {
        0 => String::new(),
        n => format!(
            ", extends {n} signed checkpoint{}",
            if n == 1 { "" } else { "s" }
        ),
    };
    match &report.first_broken {
        None => format!("ok      {chain}: {} links{checkpoints}", report.links),
        Some(b) => format!(
            "BROKEN  {chain}: {}{}: {}",
            b.chain_seq
                .map(|s| format!("at chain_seq {s}"))
                .unwrap_or_else(|| "unsealed row".to_owned()),
            b.event_id
                .as_ref()
                .map(|e| format!(" (event_id {e})"))
                .unwrap_or_default(),
            b.reason()
        ),
    }
}

async fn verify(config: AuditVerifyConfig) -> anyhow::Result<ExitCode> {
    let only = config.tenant;
    let (_postgres, db) = open_system(&config.postgres, 2).await?;
    let system = db.system();
    let checkpoints = match config.checkpoints {
        Some((path, loaded, key)) => {
            let database = database_name(&system).await?;
            let set = CheckpointSet::verified(loaded, &key, &database)?;
            println!(
                "checking against {} signed checkpoint{} from {}",
                set.len(),
                if set.len() == 1 { "" } else { "s" },
                path.display()
            );
            set
        }
        _ => CheckpointSet::empty(),
    };
    let opts = VerifyOptions {
        max_merge_delay: config.max_merge_delay,
        checkpoints,
    };
    let tenants = match &only {
        Some(t) => vec![t.clone()],
        None => audit::chained_tenants(&system)
            .await
            .context("cannot list the tenants")?,
    };
    let (mut chains, mut broken, mut links) = (0, 0, 0);
    for t in &tenants {
        let report = audit::verify_tenant_chain(&system, t, &opts)
            .await
            .with_context(|| format!("cannot read the audit chain of tenant {t}"))?;
        println!("{}", line(&format!("tenant {t}"), &report));
        chains += 1;
        links += report.links;
        broken += usize::from(!report.is_valid());
    }
    if only.is_none() {
        let report = audit::verify_system_chain(&system, &opts)
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

async fn write_checkpoint(config: AuditCheckpointConfig) -> anyhow::Result<ExitCode> {
    let (_postgres, db) = open_system(&config.postgres, 2).await?;
    if config.seal_first {
        audit::seal_pending(&db.system(), audit::DEFAULT_BATCH)
            .await
            .context("cannot seal the unsealed audit rows")?;
    }
    let checkpoints = audit::create_checkpoints(&db.system(), &config.signer)
        .await
        .context("cannot read the chain heads")?;
    if config.out == Path::new("-") {
        std::io::stdout().write_all(checkpoint::to_jsonl(&checkpoints).as_bytes())?;
    } else {
        let path = checkpoint::write_checkpoints(&config.out, &checkpoints)?;
        eprintln!(
            "signed {} chain head{} into {}",
            checkpoints.len(),
            if checkpoints.len() == 1 { "" } else { "s" },
            path.display()
        );
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn keygen(args: &AuditKeygenArgs) -> anyhow::Result<ExitCode> {
    let signer = CheckpointSigner::create_file(&args.out)?;
    eprintln!(
        "wrote a new checkpoint signing key to {} (mode 0600); its public key:",
        args.out.display()
    );
    println!("{}", signer.public_key().to_hex());
    Ok(ExitCode::SUCCESS)
}

async fn seal(postgres: &PostgresTarget, batch: i64) -> anyhow::Result<ExitCode> {
    let (_postgres, db) = open_system(postgres, 2).await?;
    let report = audit::seal_pending(&db.system(), batch)
        .await
        .context("cannot seal the unsealed audit rows")?;
    if report.busy {
        println!("another sealer is running (the service?): it seals the rows");
    }
    println!(
        "sealed {} tenant and {} system audit rows",
        report.tenant_links, report.system_links
    );
    Ok(ExitCode::SUCCESS)
}
