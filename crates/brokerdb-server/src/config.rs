//! Turning flags and environment variables into checked configuration, before any I/O.
//!
//! Every command first turns its options into a validated value (URLs parsed, secrets decoded,
//! key files read, Redis URL and CA file checked), so a bad value fails at once with one error
//! that names the variable and never quotes it; only then does the command start or reach a
//! server. The pieces several commands share are here; each command's own value sits next to
//! its `run`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use brokerdb::conninfo::{self, ConnInfo};
use brokerdb::roles;

use crate::cli::{ConnectionArgs, RedisUrlArgs};

pub use secrecy::{ExposeSecret, SecretString};

/// Reads a flag or variable that holds a secret (a URL that may carry a password, a key) into a
/// [`SecretString`]: its `Debug` shows `[REDACTED]`, it has no `Display`, and its memory is
/// zeroed on drop. The value is only reached through [`ExposeSecret::expose_secret`], where it
/// is parsed. (clap's value parser; never fails, so clap never quotes it in an error.)
pub fn secret(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(value))
}

/// A refused `Db::from_pools` as the user should read it: a pool whose role is unsafe names the
/// variables that set the roles' URLs; a pool that cannot connect keeps its cause.
pub fn explain_connect_error(err: brokerdb::db::ConnectError) -> anyhow::Error {
    match err {
        e @ brokerdb::db::ConnectError::UnsafeRole { .. } => anyhow::anyhow!(
            "{e} (DATABASE_RUNTIME_URL sets the runtime pool's URL and DATABASE_SYSTEM_URL the \
             system pool's; without them both are derived from DATABASE_URL with the user replaced)"
        ),
        other => anyhow::Error::new(other),
    }
}

/// Connection settings of the three database roles.
#[derive(Debug, Clone)]
pub struct DatabaseTargets {
    /// Owner or superuser: migrations. Absent when only role URLs were given.
    pub admin: Option<ConnInfo>,
    /// Runtime role (tenant scope).
    pub runtime: ConnInfo,
    /// System role (BYPASSRLS).
    pub system: ConnInfo,
}

/// Parses a PostgreSQL URL with its TLS parameters (`sslmode`, `sslrootcert`), naming the
/// variable it came from on failure (never echoing it: it may hold a password).
pub fn parse_postgres_url(var: &str, url: &str) -> anyhow::Result<ConnInfo> {
    ConnInfo::parse(url).with_context(|| format!("{var} is not a valid PostgreSQL URL"))
}

impl DatabaseTargets {
    /// Settings from explicit URLs; `None` when no database URL was given at all (embedded).
    pub fn from_args(args: &ConnectionArgs) -> anyhow::Result<Option<Self>> {
        let admin = args
            .database_url
            .as_ref()
            .map(|u| parse_postgres_url("DATABASE_URL", u.expose_secret()))
            .transpose()?;
        let runtime = args
            .database_runtime_url
            .as_ref()
            .map(|u| parse_postgres_url("DATABASE_RUNTIME_URL", u.expose_secret()))
            .transpose()?;
        let system = args
            .database_system_url
            .as_ref()
            .map(|u| parse_postgres_url("DATABASE_SYSTEM_URL", u.expose_secret()))
            .transpose()?;
        if admin.is_none() && runtime.is_none() && system.is_none() {
            return Ok(None);
        }
        let derive = |role: &str, given: Option<ConnInfo>, var: &str| match (given, &admin) {
            (Some(cfg), _) => Ok(cfg),
            (None, Some(admin)) => Ok(conninfo::for_role(admin, role)),
            (None, None) => bail!("{var} is required when DATABASE_URL is not set"),
        };
        Ok(Some(Self {
            runtime: derive(roles::RUNTIME, runtime, "DATABASE_RUNTIME_URL")?,
            system: derive(roles::SYSTEM, system, "DATABASE_SYSTEM_URL")?,
            admin,
        }))
    }

    /// Settings for a database reached through `admin` (the embedded cluster).
    pub fn from_admin(admin: ConnInfo) -> Self {
        Self {
            runtime: conninfo::for_role(&admin, roles::RUNTIME),
            system: conninfo::for_role(&admin, roles::SYSTEM),
            admin: Some(admin),
        }
    }
}

/// Where a command's PostgreSQL is, as the three roles reach it.
#[derive(Debug, Clone)]
pub enum PostgresTarget {
    /// A server reached through the configured URLs.
    External(Box<DatabaseTargets>),
    /// The private cluster under this data directory (started, its database created and
    /// migrated, by [`crate::services::Postgres::start`]).
    Embedded {
        /// `--data-dir`.
        data_dir: PathBuf,
    },
}

impl PostgresTarget {
    /// The URLs parsed (and the role URLs derived), or the embedded cluster when none is given.
    pub fn from_args(args: &ConnectionArgs) -> anyhow::Result<Self> {
        Ok(match DatabaseTargets::from_args(args)? {
            Some(targets) => Self::External(Box::new(targets)),
            None => Self::Embedded {
                data_dir: args.data_dir.clone(),
            },
        })
    }
}

/// Where a command that works as the admin (owner or superuser) finds PostgreSQL: `migrate`
/// and `bench` use DATABASE_URL only.
#[derive(Debug, Clone)]
pub enum AdminTarget {
    /// DATABASE_URL, parsed.
    Url(Box<ConnInfo>),
    /// The private cluster under this data directory.
    Embedded {
        /// `--data-dir`.
        data_dir: PathBuf,
    },
}

impl AdminTarget {
    /// DATABASE_URL parsed, or the embedded cluster when it is not given.
    pub fn from_args(args: &ConnectionArgs) -> anyhow::Result<Self> {
        Ok(match &args.database_url {
            Some(url) => Self::Url(Box::new(parse_postgres_url(
                "DATABASE_URL",
                url.expose_secret(),
            )?)),
            None => Self::Embedded {
                data_dir: args.data_dir.clone(),
            },
        })
    }
}

/// A checked Redis URL (and CA file, for `rediss://`): a client that no I/O has used yet.
/// `Debug` shows neither the URL nor the host.
#[derive(Clone)]
pub struct RedisEndpoint {
    client: redis::Client,
}

impl std::fmt::Debug for RedisEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisEndpoint")
            .field("url", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

impl RedisEndpoint {
    /// Checks `url` (from REDIS_URL) and reads `ca_file` (from REDIS_CA_FILE); errors name the
    /// variable and never quote the URL.
    pub fn parse(url: &str, ca_file: Option<&Path>) -> anyhow::Result<Self> {
        let client = brokerdb_redis::open_client(url, ca_file).map_err(|e| match e {
            brokerdb_redis::ClientError::InvalidUrl => {
                anyhow::anyhow!("REDIS_URL is not a valid Redis URL ({e})")
            }
            other => anyhow::anyhow!("REDIS_CA_FILE: {other}"),
        })?;
        Ok(Self { client })
    }

    /// The client (no I/O has happened yet).
    pub fn client(&self) -> &redis::Client {
        &self.client
    }
}

/// Where a command's Redis is.
#[derive(Debug, Clone)]
pub enum RedisTarget {
    /// A server reached through REDIS_URL.
    External(Box<RedisEndpoint>),
    /// A private redis-server under this data directory.
    Embedded {
        /// `--data-dir`.
        data_dir: PathBuf,
    },
}

impl RedisTarget {
    /// REDIS_URL (and REDIS_CA_FILE) checked, or a private server under `data_dir` when the URL
    /// is absent or empty.
    pub fn from_args(args: &RedisUrlArgs, data_dir: &Path) -> anyhow::Result<Self> {
        match args.redis_url.as_ref().map(ExposeSecret::expose_secret) {
            Some(url) if !url.is_empty() => Ok(Self::External(Box::new(RedisEndpoint::parse(
                url,
                args.redis_ca_file.as_deref(),
            )?))),
            _ => Ok(Self::Embedded {
                data_dir: data_dir.to_path_buf(),
            }),
        }
    }
}

/// `value` when it is more than zero; else an error naming `var`.
pub fn positive(var: &str, value: Duration) -> anyhow::Result<Duration> {
    if value.is_zero() {
        bail!("{var} must be more than zero");
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn args(db: Option<&str>, runtime: Option<&str>, system: Option<&str>) -> ConnectionArgs {
        ConnectionArgs {
            database_url: db.map(SecretString::from),
            database_runtime_url: runtime.map(SecretString::from),
            database_system_url: system.map(SecretString::from),
            data_dir: PathBuf::from(".brokerdb"),
        }
    }

    #[test]
    fn no_url_means_embedded() -> anyhow::Result<()> {
        assert!(DatabaseTargets::from_args(&args(None, None, None))?.is_none());
        Ok(())
    }

    #[test]
    fn role_urls_are_derived_from_the_admin_url() -> anyhow::Result<()> {
        let t = DatabaseTargets::from_args(&args(Some("postgres://root:pw@h:1/db"), None, None))?;
        let t = t.ok_or_else(|| anyhow::anyhow!("expected targets"))?;
        assert_eq!(conninfo::describe(&t.runtime.config), "brokerdb_app@h:1/db");
        assert_eq!(
            conninfo::describe(&t.system.config),
            "brokerdb_system@h:1/db"
        );
        Ok(())
    }

    #[test]
    fn derived_role_urls_keep_the_tls_settings() -> anyhow::Result<()> {
        use brokerdb::db::tls::{RootCerts, SslMode};
        let t = DatabaseTargets::from_args(&args(
            Some("postgres://root:pw@h:1/db?sslmode=verify-full&sslrootcert=/ca.pem"),
            None,
            None,
        ))?
        .ok_or_else(|| anyhow::anyhow!("expected targets"))?;
        for role in [&t.runtime, &t.system] {
            assert_eq!(role.tls.mode, SslMode::VerifyFull);
            assert_eq!(role.tls.root_cert, Some(RootCerts::File("/ca.pem".into())));
        }
        Ok(())
    }

    #[test]
    fn a_role_url_alone_needs_the_other_role_url() {
        let err = DatabaseTargets::from_args(&args(None, Some("postgres://a@h/db"), None)).err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("DATABASE_SYSTEM_URL is required when DATABASE_URL is not set")
        );
    }

    #[test]
    fn a_malformed_url_names_the_variable_without_echoing_it() {
        let err = DatabaseTargets::from_args(&args(
            Some("postgres://u:s3cret@h:notaport/db"),
            None,
            None,
        ))
        .err();
        let msg = err.map(|e| format!("{e:#}")).unwrap_or_default();
        assert!(
            msg.starts_with("DATABASE_URL is not a valid PostgreSQL URL"),
            "{msg}"
        );
        assert!(!msg.contains("s3cret"), "{msg}");
    }
}
