//! `brokerdb token …`: create, list and revoke the HTTP service's API tokens.
//!
//! `create` prints the token alone on stdout (so `TOKEN=$(brokerdb token create …)` works) and
//! nothing else there; it is shown once and stored only as its SHA-256 hash.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};

use brokerdb::model::{NonEmptyString, TenantId, Timestamp};
use brokerdb::repo::api_tokens::{self, Actor, ApiToken, ApiTokenRole, NewApiToken};
use clap::{Args, Subcommand};

use crate::cli::ConnectionArgs;
use crate::config::PostgresTarget;
use crate::services::open_system;

/// Options of `brokerdb token`.
#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: TokenAction,
}

/// Subcommands of `brokerdb token`.
#[derive(Debug, Clone, Subcommand)]
pub enum TokenAction {
    /// Create an API token and print it, alone, on stdout (it is shown only this once). A
    /// tenant token acts in its tenant only; a --system token manages tenants and global admin
    /// data.
    Create(TokenCreateArgs),
    /// List tokens (never their secrets): id, tenant, role, subject, expiry, last use, state.
    List(TokenListArgs),
    /// Revoke a token by its id; the service refuses it within its token cache's lifetime (5 s
    /// by default).
    Revoke(TokenRevokeArgs),
}

/// Options of `brokerdb token create`.
#[derive(Debug, Clone, Args)]
pub struct TokenCreateArgs {
    /// The tenant the token acts in (its id).
    #[arg(long, required_unless_present = "system", conflicts_with = "system")]
    pub tenant: Option<String>,
    /// A system token: no tenant; manages tenants and global admin data.
    #[arg(long)]
    pub system: bool,
    /// What it may do: `auditor` reads, `operator` also runs workflows (approvals,
    /// enrollment), `admin` also writes configuration.
    #[arg(long, value_parser = ["admin", "operator", "auditor"])]
    pub role: String,
    /// The principal: recorded as the actor of every audit event the token's requests write.
    #[arg(long, default_value = "cli")]
    pub subject: String,
    /// Lifetime, e.g. `30d`, `12h` (default: until revoked).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub expires: Option<Duration>,
    /// Where PostgreSQL is.
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Options of `brokerdb token list`.
#[derive(Debug, Clone, Args)]
pub struct TokenListArgs {
    /// Only this tenant's tokens (default: every token, system tokens included).
    #[arg(long)]
    pub tenant: Option<String>,
    /// Where PostgreSQL is.
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Options of `brokerdb token revoke`.
#[derive(Debug, Clone, Args)]
pub struct TokenRevokeArgs {
    /// The token's id (`brokerdb token list` shows it; it is the part after `bdb_`).
    pub token_id: String,
    /// Where PostgreSQL is.
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

fn cli_actor() -> anyhow::Result<Actor> {
    Ok(Actor {
        actor: NonEmptyString::new("actor", "cli")?,
        correlation_id: NonEmptyString::new("correlation_id", &uuid::Uuid::new_v4().to_string())?,
    })
}

fn tenant(text: &str) -> anyhow::Result<TenantId> {
    TenantId::parse(text).context("--tenant is not a valid tenant id")
}

/// Runs a `token` subcommand.
pub async fn run(args: TokenArgs) -> anyhow::Result<ExitCode> {
    match args.action {
        TokenAction::Create(args) => {
            let new = NewApiToken {
                tenant_id: args.tenant.as_deref().map(tenant).transpose()?,
                role: ApiTokenRole::parse(&args.role)?,
                subject: NonEmptyString::new("subject", &args.subject)
                    .context("--subject must not be empty")?,
                expires_at: match args.expires {
                    Some(d) => Some(
                        Timestamp::now()
                            .checked_add(d)
                            .context("--expires is too far in the future")?,
                    ),
                    None => None,
                },
            };
            if new.tenant_id.is_none() && !args.system {
                bail!("give --tenant T or --system");
            }
            let (_pg, db) = open_system(&PostgresTarget::from_args(&args.connection)?, 1).await?;
            let issued = api_tokens::create(&mut db.system(), &new, &cli_actor()?)
                .await
                .map_err(|e| match e.code() {
                    brokerdb::db::ErrorCode::IntegrityViolation => {
                        anyhow::anyhow!("tenant {} does not exist", args.tenant.unwrap_or_default())
                    }
                    _ => anyhow::Error::new(e).context("cannot create the token"),
                })?;
            eprintln!(
                "created token {} ({} of {}, subject {}); it is shown only once:",
                issued.token.token_id,
                issued.token.role,
                scope_label(&issued.token),
                issued.token.subject
            );
            println!("{}", issued.secret.expose());
            Ok(ExitCode::SUCCESS)
        }
        TokenAction::List(args) => {
            let filter = args.tenant.as_deref().map(tenant).transpose()?;
            let (_pg, db) = open_system(&PostgresTarget::from_args(&args.connection)?, 1).await?;
            let tokens = api_tokens::list(&mut db.system(), filter.as_ref()).await?;
            println!("TOKEN_ID\tTENANT\tROLE\tSUBJECT\tCREATED\tEXPIRES\tLAST_USED\tSTATE");
            let now = Timestamp::now();
            for t in &tokens {
                let show =
                    |v: Option<Timestamp>| v.map_or_else(|| "-".to_owned(), |t| t.to_string());
                let state = match (t.revoked_at, t.is_active(now)) {
                    (Some(_), _) => "revoked",
                    (None, false) => "expired",
                    (None, true) => "active",
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{state}",
                    t.token_id,
                    scope_label(t),
                    t.role,
                    t.subject,
                    t.created_at,
                    show(t.expires_at),
                    show(t.last_used_at),
                );
            }
            eprintln!("{} token(s)", tokens.len());
            Ok(ExitCode::SUCCESS)
        }
        TokenAction::Revoke(args) => {
            let (_pg, db) = open_system(&PostgresTarget::from_args(&args.connection)?, 1).await?;
            match api_tokens::revoke(&mut db.system(), &args.token_id, &cli_actor()?).await {
                Ok(t) => {
                    eprintln!("revoked token {} ({})", t.token_id, scope_label(&t));
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) if e.code() == brokerdb::db::ErrorCode::NotFound => {
                    bail!("no token has the id {:?}", args.token_id)
                }
                Err(e) => Err(anyhow::Error::new(e).context("cannot revoke the token")),
            }
        }
    }
}

fn scope_label(t: &ApiToken) -> String {
    t.tenant_id
        .as_ref()
        .map_or_else(|| "system".to_owned(), |t| t.to_string())
}
