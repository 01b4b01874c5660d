//! The repair console's settings: which environment this is, who may repair, how the caller is
//! identified behind a reverse proxy, and how long a repair statement may run.
//!
//! Flags and variables are read by clap ([`ConsoleArgs`], [`ProxyArgs`]) and turned into a
//! checked [`ConsoleSettings`]; tests and other callers build that value directly, so nothing
//! here reads the process environment.

use std::time::Duration;

use anyhow::{Context, bail};
use axum::http::HeaderName;
use brokerdb_repair::{Guards, RepairSettings};
use clap::Args;

use super::page::same_origin::PublicOrigins;
use crate::config::positive;

/// The console's guards and limits: `BROKERDB_ENV`, `BROKERDB_REPAIR_ADMINS` and the repair
/// timeouts (`serve` and the `repair` / `doctor` commands).
#[derive(Debug, Clone, Args)]
pub struct ConsoleArgs {
    /// The deployment environment. The repair console (the /api/ops/db/repairs routes,
    /// `brokerdb repair`, `brokerdb doctor`) works only where it is `staging` or `development`;
    /// `production`, unset or anything else refuses with ENV_DISABLED.
    #[arg(long = "environment", env = "BROKERDB_ENV", global = true)]
    pub environment: Option<String>,
    /// Comma-separated principals allowed to use the repair console: API token subjects, users
    /// named by the trusted proxy header, or `os:<user>` for the CLI. Empty or unset: nobody.
    #[arg(long = "repair-admins", env = "BROKERDB_REPAIR_ADMINS", global = true)]
    pub repair_admins: Option<String>,
    /// `statement_timeout` of each repair statement, e.g. `60s`.
    #[arg(long = "repair-statement-timeout", env = "REPAIR_STATEMENT_TIMEOUT", default_value = "60s",
          value_parser = humantime::parse_duration, global = true)]
    pub repair_statement_timeout: Duration,
    /// `lock_timeout` of each repair statement, e.g. `5s`: a repair waits this long at most for
    /// a lock held by the application's traffic, then fails and rolls back.
    #[arg(long = "repair-lock-timeout", env = "REPAIR_LOCK_TIMEOUT", default_value = "5s",
          value_parser = humantime::parse_duration, global = true)]
    pub repair_lock_timeout: Duration,
}

/// How `serve` learns who calls the console from a trusted reverse proxy.
#[derive(Debug, Clone, Args)]
pub struct ProxyArgs {
    /// Name of a header a trusted reverse proxy sets to the authenticated user (e.g.
    /// `x-forwarded-user`); the console takes its value as the principal when
    /// REPAIR_TRUST_PROXY_HEADER=true and no bearer token is presented.
    #[arg(long = "repair-proxy-header", env = "REPAIR_PROXY_HEADER")]
    pub repair_proxy_header: Option<String>,
    /// Honour REPAIR_PROXY_HEADER. Only set it when every request reaches the service through a
    /// proxy that removes a client's copy of the header; otherwise a client-sent copy is ignored.
    #[arg(long = "repair-trust-proxy-header", env = "REPAIR_TRUST_PROXY_HEADER", default_value = "false",
          num_args = 0..=1, default_missing_value = "true",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub repair_trust_proxy_header: bool,
    /// Comma-separated origins (`https://ops.example.com`) under which browsers reach the
    /// console through a reverse proxy that rewrites `Host`: the page's forms are accepted from
    /// them as well as from the request's own host. Unset: the request's host only.
    #[arg(long = "repair-public-origins", env = "REPAIR_PUBLIC_ORIGINS")]
    pub repair_public_origins: Option<String>,
}

/// The console's checked settings.
#[derive(Debug, Clone)]
pub struct ConsoleSettings {
    /// Guards 2 and 3: the environment and the admin allowlist.
    pub guards: Guards,
    /// The header whose value is the principal; `Some` only when it is trusted.
    pub proxy_header: Option<HeaderName>,
    /// The repair timeouts.
    pub repair: RepairSettings,
    /// Origins the page's forms are accepted from besides the request's own host.
    pub public_origins: PublicOrigins,
}

impl ConsoleSettings {
    /// Settings that refuse every request (no environment, no admins, no proxy header).
    pub fn disabled() -> Self {
        Self {
            guards: Guards::new(None, None),
            proxy_header: None,
            repair: RepairSettings::default(),
            public_origins: PublicOrigins::default(),
        }
    }
}

impl ConsoleArgs {
    /// The guards and timeouts, checked (timeouts more than zero).
    pub fn settings(&self) -> anyhow::Result<ConsoleSettings> {
        Ok(ConsoleSettings {
            guards: Guards::new(self.environment.as_deref(), self.repair_admins.as_deref()),
            proxy_header: None,
            repair: RepairSettings {
                statement_timeout: positive(
                    "REPAIR_STATEMENT_TIMEOUT",
                    self.repair_statement_timeout,
                )?,
                lock_timeout: positive("REPAIR_LOCK_TIMEOUT", self.repair_lock_timeout)?,
                ..RepairSettings::default()
            },
            public_origins: PublicOrigins::default(),
        })
    }
}

impl ProxyArgs {
    /// The checked `REPAIR_PUBLIC_ORIGINS` (empty when unset).
    pub fn public_origins(&self) -> anyhow::Result<PublicOrigins> {
        Ok(PublicOrigins::parse(
            self.repair_public_origins.as_deref().unwrap_or_default(),
        )?)
    }

    /// The trusted header's name: `None` unless REPAIR_TRUST_PROXY_HEADER is true; trusting
    /// without a (valid) header name is an error naming the variable.
    pub fn trusted_header(&self) -> anyhow::Result<Option<HeaderName>> {
        let name = self
            .repair_proxy_header
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty());
        match (name, self.repair_trust_proxy_header) {
            (None, true) => {
                bail!("REPAIR_TRUST_PROXY_HEADER=true needs REPAIR_PROXY_HEADER (a header name)")
            }
            (None, false) => Ok(None),
            (Some(name), trusted) => {
                let header = HeaderName::try_from(name)
                    .ok()
                    .context("REPAIR_PROXY_HEADER is not a valid HTTP header name")?;
                if header == axum::http::header::AUTHORIZATION
                    || header == axum::http::header::COOKIE
                {
                    bail!("REPAIR_PROXY_HEADER cannot be Authorization or Cookie");
                }
                if !trusted {
                    tracing::info!(
                        "REPAIR_PROXY_HEADER is ignored: REPAIR_TRUST_PROXY_HEADER is not true"
                    );
                }
                Ok(trusted.then_some(header))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(header: Option<&str>, trusted: bool) -> ProxyArgs {
        ProxyArgs {
            repair_proxy_header: header.map(str::to_owned),
            repair_trust_proxy_header: trusted,
            repair_public_origins: None,
        }
    }

    #[test]
    fn public_origins_are_checked_and_a_bad_entry_is_named_by_position_only() -> anyhow::Result<()>
    {
        let args = |list: &str| ProxyArgs {
            repair_public_origins: Some(list.to_owned()),
            ..proxy(None, false)
        };
        assert_eq!(
            args("https://ops.example.com").public_origins()?.as_slice(),
            ["https://ops.example.com"]
        );
        assert!(proxy(None, false).public_origins()?.as_slice().is_empty());
        let err = args("https://ops.example.com,secret-host/path")
            .public_origins()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("REPAIR_PUBLIC_ORIGINS entry 2"), "{err}");
        assert!(!err.contains("secret-host"), "{err}");
        Ok(())
    }

    #[test]
    fn the_proxy_header_counts_only_when_trusted() -> anyhow::Result<()> {
        assert_eq!(
            proxy(Some("X-Forwarded-User"), false).trusted_header()?,
            None
        );
        assert_eq!(
            proxy(Some("X-Forwarded-User"), true)
                .trusted_header()?
                .map(|h| h.to_string()),
            Some("x-forwarded-user".to_owned())
        );
        assert_eq!(proxy(None, false).trusted_header()?, None);
        for (header, trusted) in [
            (None, true),
            (Some(" "), true),
            (Some("bad header"), true),
            (Some("authorization"), true),
        ] {
            assert!(
                proxy(header, trusted).trusted_header().is_err(),
                "{header:?}"
            );
        }
        Ok(())
    }

    #[test]
    fn timeouts_must_be_positive() {
        let args = ConsoleArgs {
            environment: Some("staging".into()),
            repair_admins: Some("alice".into()),
            repair_statement_timeout: Duration::ZERO,
            repair_lock_timeout: Duration::from_secs(5),
        };
        let err = args.settings().err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("REPAIR_STATEMENT_TIMEOUT must be more than zero")
        );
    }
}
