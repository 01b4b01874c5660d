//! Deriving connection settings for the runtime and system roles from an admin connection.
//!
//! An installation usually gives one admin (owner or superuser) connection string; the runtime
//! and system roles connect to the same server and database under their own names. Passwords
//! are not carried over: where roles use password authentication, give each role its own
//! connection string instead.

use tokio_postgres::Config;

/// Returns `base` with the user replaced by `role` and the password removed; host, port,
/// database, TLS mode, timeouts and application name are kept.
pub fn for_role(base: &Config, role: &str) -> Config {
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
    cfg
}

/// Returns `base` pointed at another database, keeping user, password and everything else.
pub fn for_database(base: &Config, dbname: &str) -> Config {
    let mut cfg = base.clone();
    cfg.dbname(dbname);
    cfg
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

    #[test]
    fn role_config_keeps_server_and_database_and_drops_the_password()
    -> Result<(), tokio_postgres::Error> {
        let base: Config =
            "postgres://admin:s3cret@db.example:6543/brokerdb?connect_timeout=3".parse()?;
        let cfg = for_role(&base, "brokerdb_app");
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
    fn database_config_keeps_credentials() -> Result<(), tokio_postgres::Error> {
        let base: Config = "host=127.0.0.1 user=postgres password=pw dbname=postgres".parse()?;
        let cfg = for_database(&base, "other");
        assert_eq!(cfg.get_password(), Some(&b"pw"[..]));
        assert_eq!(describe(&cfg), "postgres@127.0.0.1:5432/other");
        Ok(())
    }
}
