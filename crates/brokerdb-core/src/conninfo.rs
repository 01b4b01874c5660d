//! Deriving connection settings for the runtime and system roles from an admin connection.
//!
//! An installation usually gives one admin (owner or superuser) connection string; the runtime
//! and system roles connect to the same server and database under their own names. Passwords
//! are not carried over: where roles use password authentication, give each role its own
//! connection string instead. TLS settings (`sslmode`, `sslrootcert`) are carried over.
//!
//! A [`ConnInfo`] is a tokio-postgres [`Config`] with the [`TlsSettings`] that tokio-postgres
//! cannot express (`verify-ca`, `verify-full`, `sslrootcert`); [`ConnInfo::parse`] reads both
//! from one connection string.

use std::str::FromStr;

use tokio_postgres::Config;

use crate::db::tls::{TlsError, TlsSettings, split_tls_params};

/// Where and how to connect: the driver's settings and the TLS settings.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// Server, port, user, password, database, timeouts (tokio-postgres).
    pub config: Config,
    /// `sslmode` and `sslrootcert` (libpq semantics).
    pub tls: TlsSettings,
}

/// A connection string that cannot be used. Never quotes the string (it may hold a password).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnInfoError {
    /// A TLS parameter is invalid.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// tokio-postgres refused the rest of the string.
    #[error(transparent)]
    Config(tokio_postgres::Error),
}

/// A connection that could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The TLS settings cannot be used (an unreadable `sslrootcert`, no system roots).
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Connecting, the TLS handshake or authentication failed; the source says why.
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
}

impl ConnInfo {
    /// Reads a connection string (URL or `key=value` form), TLS parameters included.
    pub fn parse(conn: &str) -> Result<Self, ConnInfoError> {
        let (rest, tls) = split_tls_params(conn)?;
        let config = rest.parse::<Config>().map_err(ConnInfoError::Config)?;
        Ok(Self::new(config, tls))
    }

    /// `config` with `tls`; the config's own `ssl_mode` is set to what `tls` negotiates.
    pub fn new(mut config: Config, tls: TlsSettings) -> Self {
        config.ssl_mode(tls.driver_mode(config.get_hosts()));
        Self { config, tls }
    }

    /// A config that carries its TLS choice itself (`ssl_mode`, no root certificate), such as
    /// the embedded cluster's Unix-socket settings.
    pub fn from_config(config: Config) -> Self {
        let tls = TlsSettings::from_driver(config.get_ssl_mode());
        Self::new(config, tls)
    }

    /// One connection, driven on the current tokio runtime until the client is dropped.
    pub async fn connect(&self) -> Result<tokio_postgres::Client, ConnectError> {
        let connector = self.tls.connector()?;
        let (client, connection) = self.config.connect(connector).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "PostgreSQL connection ended");
            }
        });
        Ok(client)
    }
}

impl FromStr for ConnInfo {
    type Err = ConnInfoError;

    fn from_str(conn: &str) -> Result<Self, Self::Err> {
        Self::parse(conn)
    }
}

impl From<Config> for ConnInfo {
    fn from(config: Config) -> Self {
        Self::from_config(config)
    }
}

/// Returns `base` with the user replaced by `role` and the password removed; host, port,
/// database, TLS settings, timeouts and application name are kept.
pub fn for_role(base: &ConnInfo, role: &str) -> ConnInfo {
    ConnInfo {
        config: config_for_role(&base.config, role),
        tls: base.tls.clone(),
    }
}

/// [`for_role`] at another endpoint: `base`'s database, TLS settings and timeouts, as `role`, at
/// `host:port` (a connection pooler in front of the same server, such as PgBouncer).
pub fn for_role_at(base: &ConnInfo, role: &str, host: &str, port: u16) -> ConnInfo {
    let mut config = Config::new();
    config.host(host).port(port);
    copy_settings(&base.config, &mut config, role);
    ConnInfo {
        config,
        tls: base.tls.clone(),
    }
}

/// `<host>:<port>` (e.g. `127.0.0.1:6432`), as the PgBouncer settings of the bench and the test
/// kit take it.
pub fn parse_host_port(s: &str) -> Result<(String, u16), crate::scalar::ValidationError> {
    s.trim()
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host.to_owned(), port.parse().ok()?)))
        .filter(|(host, _)| !host.is_empty())
        .ok_or_else(|| {
            crate::scalar::ValidationError::new(
                "host_port",
                "must be <host>:<port>, e.g. 127.0.0.1:6432",
            )
        })
}

fn config_for_role(base: &Config, role: &str) -> Config {
    let mut cfg = Config::new();
    for host in base.get_hosts() {
        match host {
            tokio_postgres::config::Host::Tcp(name) => cfg.host(name),
            tokio_postgres::config::Host::Unix(path) => cfg.host_path(path),
        };
    }
    for port in base.get_ports() {
        cfg.port(*port);
    }
    copy_settings(base, &mut cfg, role);
    cfg
}

/// Database, connect timeout, application name and `sslmode` of `base`, and `role` as the user.
fn copy_settings(base: &Config, cfg: &mut Config, role: &str) {
    if let Some(db) = base.get_dbname() {
        cfg.dbname(db);
    }
    if let Some(timeout) = base.get_connect_timeout() {
        cfg.connect_timeout(*timeout);
    }
    if let Some(name) = base.get_application_name() {
        cfg.application_name(name);
    }
    cfg.ssl_mode(base.get_ssl_mode());
    cfg.user(role);
}

/// Returns `base` pointed at another database, keeping user, password and everything else.
pub fn for_database(base: &ConnInfo, dbname: &str) -> ConnInfo {
    let mut info = base.clone();
    info.config.dbname(dbname);
    info
}

/// A printable description of where a configuration points (`user@host:port/db`), without the
/// password, for error messages and logs.
pub fn describe(cfg: &Config) -> String {
    let host = cfg
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".to_owned());
    let port = cfg.get_ports().first().copied().unwrap_or(5432);
    let user = cfg.get_user().unwrap_or("?");
    let db = cfg.get_dbname().unwrap_or(user);
    format!("{user}@{host}:{port}/{db}")
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::db::tls::{RootCerts, SslMode};

    #[test]
    fn role_config_keeps_server_database_and_tls_and_drops_the_password()
    -> Result<(), ConnInfoError> {
        let base = ConnInfo::parse(
            "postgres://admin:s3cret@db.example:6543/brokerdb?connect_timeout=3\
             &sslmode=verify-full&sslrootcert=/etc/brokerdb/ca.pem",
        )?;
        let role = for_role(&base, "brokerdb_app");
        assert_eq!(role.tls.mode, SslMode::VerifyFull);
        assert_eq!(
            role.tls.root_cert,
            Some(RootCerts::File("/etc/brokerdb/ca.pem".into()))
        );
        assert_eq!(
            role.config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        );
        let cfg = role.config;
        assert_eq!(cfg.get_user(), Some("brokerdb_app"));
        assert_eq!(cfg.get_password(), None);
        assert_eq!(describe(&cfg), "brokerdb_app@db.example:6543/brokerdb");
        assert_eq!(
            cfg.get_connect_timeout(),
            Some(&std::time::Duration::from_secs(3))
        );
        Ok(())
    }

    #[test]
    fn database_config_keeps_credentials_and_tls() -> Result<(), ConnInfoError> {
        let base = ConnInfo::parse(
            "host=127.0.0.1 user=postgres password=pw dbname=postgres sslmode=require",
        )?;
        let info = for_database(&base, "other");
        assert_eq!(info.tls.mode, SslMode::Require);
        let cfg = info.config;
        assert_eq!(cfg.get_password(), Some(&b"pw"[..]));
        assert_eq!(describe(&cfg), "postgres@127.0.0.1:5432/other");
        Ok(())
    }

    #[test]
    fn a_bad_string_is_refused_without_echoing_it() {
        for bad in [
            "postgres://u:s3cret@h:notaport/db",
            "postgres://u:s3cret@h/db?sslmode=maybe",
            "postgres://u:s3cret@h/db?nosuchoption=1",
        ] {
            let msg = ConnInfo::parse(bad)
                .err()
                .map(|e| {
                    let mut msg = e.to_string();
                    let mut source = std::error::Error::source(&e);
                    while let Some(s) = source {
                        msg.push_str(&format!(": {s}"));
                        source = s.source();
                    }
                    msg
                })
                .unwrap_or_default();
            assert!(!msg.is_empty(), "{bad} accepted");
            assert!(!msg.contains("s3cret"), "{msg}");
        }
    }
}
