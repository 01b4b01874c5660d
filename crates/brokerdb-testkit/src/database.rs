//! A freshly migrated database per test.

use std::time::{SystemTime, UNIX_EPOCH};

use brokerdb::conninfo::{self, ConnInfo};
use brokerdb::db::tls::{RootCerts, SslMode};
use brokerdb::db::{CursorKey, Db, DbSettings, StatementMode, pool};
use brokerdb::roles;
use tokio_postgres::Client;

use crate::services::services;
use crate::{connect, random_hex};

/// A test's own database, cloned from the migrated template; dropped when this is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    server_admin: ConnInfo,
    admin: ConnInfo,
}

/// Creates a fresh, fully migrated database for one test.
pub async fn database() -> TestDatabase {
    let template = services().await.template.clone();
    create(Some(&template)).await
}

/// Creates a freshly migrated database for the rest of this test process, for data that is costly
/// to build and that several tests share: keep it in a `static` (never dropped). It is named
/// `brokerdb_proc_<pid>_<label>_<random>`, and a later test process drops it once this process is
/// gone. `label`: lower-case letters, digits and `_`.
pub async fn process_database(label: &str) -> TestDatabase {
    assert!(
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        "a process database label is lower-case letters, digits and _: {label:?}"
    );
    let template = services().await.template.clone();
    let name = format!(
        "{PROCESS_PREFIX}{}_{label}_{}",
        std::process::id(),
        random_hex(4)
    );
    create_named(name, Some(&template)).await
}

/// Name prefix of [`process_database`]s: `brokerdb_proc_<pid>_…`.
pub(crate) const PROCESS_PREFIX: &str = "brokerdb_proc_";

/// Creates an empty database (no migration applied) for tests of the migration runner. The
/// cluster-wide roles exist already (the template build created them).
pub async fn empty_database() -> TestDatabase {
    create(None).await
}

async fn create(template: Option<&str>) -> TestDatabase {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    create_named(format!("brokerdb_test_{secs}_{}", random_hex(6)), template).await
}

async fn create_named(name: String, template: Option<&str>) -> TestDatabase {
    let services = services().await;
    let client = connect(&services.admin)
        .await
        .expect("connect to the admin database");
    let sql = match template {
        Some(t) => format!("CREATE DATABASE \"{name}\" TEMPLATE \"{t}\""),
        None => format!("CREATE DATABASE \"{name}\""),
    };
    client
        .batch_execute(&sql)
        .await
        .unwrap_or_else(|e| panic!("cannot create a test database: {e}"));
    let db = TestDatabase {
        admin: conninfo::for_database(&services.admin, &name),
        server_admin: services.admin.clone(),
        name,
    };
    if template.is_some() {
        // A clone does not inherit the template's database-level grants: the runner re-applies
        // them (nothing is pending, so that is all it does), as it would after a restore.
        let mut client = db.admin().await;
        brokerdb::migrate::apply_sets(&mut client, &crate::all_sets())
            .await
            .unwrap_or_else(|e| panic!("cannot harden the test database: {e}"));
    }
    db
}

impl TestDatabase {
    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Superuser settings for this database.
    pub fn admin_config(&self) -> ConnInfo {
        self.admin.clone()
    }

    /// Settings for the runtime role (`brokerdb_app`, subject to row-level security).
    pub fn runtime_config(&self) -> ConnInfo {
        conninfo::for_role(&self.admin, roles::RUNTIME)
    }

    /// Settings for the system role (`brokerdb_system`, BYPASSRLS).
    pub fn system_config(&self) -> ConnInfo {
        conninfo::for_role(&self.admin, roles::SYSTEM)
    }

    /// The superuser URL of this database (for `DATABASE_URL` of a spawned `brokerdb`).
    pub fn admin_url(&self) -> String {
        to_url(&self.admin)
    }

    /// A [`Db`] on this database: runtime and system pools of 4 connections, default settings,
    /// a random cursor key.
    pub async fn db(&self) -> Db {
        self.db_with(DbSettings::default()).await
    }

    /// A [`Db`] on this database with `settings` (through [`Db::from_pools`], so the pools' roles are
    /// checked as in production).
    ///
    /// With `BROKERDB_TEST_PGBOUNCER=<host>:<port>` set, the runtime and system pools connect
    /// through that PgBouncer (transaction mode; the same database name, the roles without a
    /// password) and the handle uses [`StatementMode::Unnamed`]: how `.ci/run` runs the library's
    /// integration tests a second time behind a transaction pooler. Direct connections
    /// ([`TestDatabase::admin`], [`TestDatabase::runtime`]) stay direct.
    pub async fn db_with(&self, mut settings: DbSettings) -> Db {
        let (mut runtime_cfg, mut system_cfg) = (self.runtime_config(), self.system_config());
        if let Some((host, port)) = pgbouncer() {
            settings.statement_mode = StatementMode::Unnamed;
            runtime_cfg = conninfo::for_role_at(&self.admin, roles::RUNTIME, &host, port);
            system_cfg = conninfo::for_role_at(&self.admin, roles::SYSTEM, &host, port);
        }
        let mode = settings.statement_mode;
        let runtime = pool::build_for(&runtime_cfg, 4, mode).expect("runtime pool");
        let system = pool::build_for(&system_cfg, 4, mode).expect("system pool");
        Db::from_pools(runtime, system, settings, CursorKey::random())
            .await
            .unwrap_or_else(|e| panic!("Db::from_pools refused the test database's roles: {e}"))
    }

    /// A superuser connection to this database.
    pub async fn admin(&self) -> Client {
        connect(&self.admin).await.expect("connect as superuser")
    }

    /// A runtime-role connection to this database.
    pub async fn runtime(&self) -> Client {
        connect(&self.runtime_config())
            .await
            .expect("connect as brokerdb_app")
    }

    /// A system-role connection to this database.
    pub async fn system(&self) -> Client {
        connect(&self.system_config())
            .await
            .expect("connect as brokerdb_system")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop runs outside async context: use a short-lived runtime on its own thread.
        let admin = self.server_admin.clone();
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let client = connect(&admin).await.ok()?;
                client.batch_execute(&sql).await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            tracing::warn!(database = %self.name, "could not drop test database; it is swept later");
        }
    }
}

fn to_url(info: &ConnInfo) -> String {
    let cfg = &info.config;
    // A socket directory (the embedded cluster) is a percent-encoded host, as libpq reads it.
    let host = match cfg.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(dir)) => {
            percent_encode(dir.as_os_str().as_encoded_bytes())
        }
        None => "127.0.0.1".to_owned(),
    };
    let port = cfg.get_ports().first().copied().unwrap_or(5432);
    let user = cfg.get_user().unwrap_or("postgres");
    let password = cfg
        .get_password()
        .map(|p| format!(":{}", percent_encode(p)))
        .unwrap_or_default();
    let mut tls = Vec::new();
    if info.tls.mode != SslMode::Prefer {
        tls.push(format!("sslmode={}", info.tls.mode));
    }
    match &info.tls.root_cert {
        Some(RootCerts::File(path)) => tls.push(format!(
            "sslrootcert={}",
            percent_encode(path.as_os_str().as_encoded_bytes())
        )),
        Some(RootCerts::System) => tls.push("sslrootcert=system".to_owned()),
        None => {}
    }
    let query = if tls.is_empty() {
        String::new()
    } else {
        format!("?{}", tls.join("&"))
    };
    format!(
        "postgres://{user}{password}@{host}:{port}/{}{query}",
        cfg.get_dbname().unwrap_or("postgres")
    )
}

fn percent_encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The PgBouncer the library's pools go through (`BROKERDB_TEST_PGBOUNCER=<host>:<port>`), if
/// set. A malformed value panics: a misconfigured run must not silently test direct connections.
pub fn pgbouncer() -> Option<(String, u16)> {
    let value = std::env::var("BROKERDB_TEST_PGBOUNCER")
        .ok()
        .filter(|v| !v.trim().is_empty())?;
    match conninfo::parse_host_port(&value) {
        Ok(endpoint) => Some(endpoint),
        Err(_) => panic!("BROKERDB_TEST_PGBOUNCER must be <host>:<port>"),
    }
}
