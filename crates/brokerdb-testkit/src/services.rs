//! The servers tests run against: from the environment, or embedded once per test binary.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use brokerdb::conninfo::ConnInfo;
use brokerdb::migrate::apply_sets;
use brokerdb_embedded::{EmbeddedPostgres, EmbeddedRedis, PostgresOptions, RedisOptions};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::connect;

/// Advisory lock (in the admin database) serialising template builds across test processes.
const TEMPLATE_LOCK_KEY: i64 = 0x6272_6f6b_7465_6d70;
/// Leftover test databases older than this are dropped when a test binary starts.
const STALE_AFTER: Duration = Duration::from_secs(6 * 3600);

/// Where tests connect.
pub(crate) struct Services {
    /// Superuser settings for the admin database (creates and drops test databases).
    pub admin: ConnInfo,
    /// Redis URL.
    pub redis_url: String,
    /// Name of the migrated template database.
    pub template: String,
    // Embedded servers live as long as the process; the parent-death signal stops them on exit.
    _postgres: Option<EmbeddedPostgres>,
    _redis: Option<EmbeddedRedis>,
}

static SERVICES: OnceCell<Services> = OnceCell::const_new();

pub(crate) async fn services() -> &'static Services {
    SERVICES.get_or_init(init).await
}

async fn init() -> Services {
    let database_url = std::env::var("DATABASE_URL").ok().filter(|s| !s.is_empty());
    let redis_url = std::env::var("REDIS_URL").ok().filter(|s| !s.is_empty());
    let needs_embedded = database_url.is_none() || redis_url.is_none();
    let data_dir = needs_embedded.then(embedded_dir);

    let (admin, postgres) = match database_url {
        Some(url) => {
            let cfg = ConnInfo::parse(&url)
                .unwrap_or_else(|e| panic!("DATABASE_URL is not a valid PostgreSQL URL: {e}"));
            (cfg, None)
        }
        None => {
            let mut opts = PostgresOptions::new(
                data_dir.clone().expect("data dir"),
                std::env::var_os("PATH"),
            );
            opts.durable = false;
            let pg = EmbeddedPostgres::start(&opts).await.unwrap_or_else(|e| {
                panic!("DATABASE_URL is not set and the embedded PostgreSQL did not start: {e}")
            });
            (ConnInfo::from(pg.config("postgres")), Some(pg))
        }
    };
    let (redis_url, redis) = match redis_url {
        Some(url) => (url, None),
        None => {
            let opts = RedisOptions::new(data_dir.expect("data dir"), std::env::var_os("PATH"));
            let r = EmbeddedRedis::start(&opts).await.unwrap_or_else(|e| {
                panic!("REDIS_URL is not set and the embedded Redis did not start: {e}")
            });
            (r.url(), Some(r))
        }
    };
    check_redis(&redis_url).await;
    let template = ensure_template(&admin).await;
    Services {
        admin,
        redis_url,
        template,
        _postgres: postgres,
        _redis: redis,
    }
}

/// `<tmp>/brokerdb-testkit/<pid>`, after removing directories of test processes that are gone.
pub(crate) fn embedded_dir() -> PathBuf {
    let root = std::env::temp_dir().join("brokerdb-testkit");
    if let Ok(entries) = std::fs::read_dir(&root) {
        for entry in entries.flatten() {
            let pid: Option<i32> = entry.file_name().to_str().and_then(|s| s.parse().ok());
            if pid.is_some_and(|pid| !PathBuf::from(format!("/proc/{pid}")).exists()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = root.join(std::process::id().to_string());
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

async fn check_redis(url: &str) {
    let client = redis::Client::open(url)
        .unwrap_or_else(|e| panic!("REDIS_URL is not a valid Redis URL: {e}"));
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("cannot connect to Redis at {url}: {e}"));
    let pong: String = redis::cmd("PING")
        .query_async(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("Redis PING failed: {e}"));
    assert_eq!(pong, "PONG");
}

/// The template's name changes whenever any migration of either set (the core's, the project
/// store's) changes, so a stale template is never used.
fn template_name() -> String {
    let mut hasher = Sha256::new();
    for set in crate::all_sets() {
        hasher.update(set.name.as_bytes());
        for m in set.migrations {
            hasher.update(m.label().as_bytes());
            hasher.update(m.checksum().as_bytes());
        }
    }
    format!("brokerdb_tpl_{}", &hex::encode(hasher.finalize())[..16])
}

async fn ensure_template(admin: &ConnInfo) -> String {
    let name = template_name();
    let client = connect(admin).await.unwrap_or_else(|e| {
        panic!(
            "cannot connect to PostgreSQL as {}: {e}",
            brokerdb::conninfo::describe(&admin.config)
        )
    });
    client
        .execute("SELECT pg_advisory_lock($1)", &[&TEMPLATE_LOCK_KEY])
        .await
        .expect("template lock");
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .expect("pg_database")
        .is_some();
    if !exists {
        build_template(&client, admin, &name).await;
    }
    drop_stale_test_databases(&client).await;
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&TEMPLATE_LOCK_KEY])
        .await
        .expect("template unlock");
    name
}

async fn build_template(client: &tokio_postgres::Client, admin: &ConnInfo, name: &str) {
    let building = format!("{name}_build");
    // Names are generated from hex digests: safe to quote as identifiers.
    client
        .batch_execute(&format!(
            "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
        ))
        .await
        .expect("drop partial template");
    client
        .batch_execute(&format!("CREATE DATABASE \"{building}\""))
        .await
        .expect("create template database");
    {
        let mut db = connect(&brokerdb::conninfo::for_database(admin, &building))
            .await
            .expect("connect to template");
        apply_sets(&mut db, &crate::all_sets())
            .await
            .unwrap_or_else(|e| panic!("migrating the test template failed: {e}"));
    }
    // The migrating connection closes asynchronously; retry the rename until it has gone.
    let rename = format!("ALTER DATABASE \"{building}\" RENAME TO \"{name}\"");
    for attempt in 0.. {
        match client.batch_execute(&rename).await {
            Ok(()) => break,
            Err(e) if attempt < 100 => {
                tracing::debug!(error = %e, "template still in use; retrying rename");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("cannot finish the test template: {e}"),
        }
    }
}

async fn drop_stale_test_databases(client: &tokio_postgres::Client) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let rows = client
        .query(
            "SELECT datname FROM pg_database \
             WHERE datname LIKE 'brokerdb\\_test\\_%' OR datname LIKE 'brokerdb\\_proc\\_%'",
            &[],
        )
        .await
        .expect("list test databases");
    for row in rows {
        let name: String = row.get(0);
        if let Some(rest) = name.strip_prefix(crate::database::PROCESS_PREFIX) {
            // A process database outlives its process only when that process is gone. Without
            // FORCE: a database someone is still connected to stays.
            let pid = rest.split('_').next().unwrap_or_default();
            if !pid.is_empty() && !PathBuf::from(format!("/proc/{pid}")).exists() {
                let _ = client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\""))
                    .await;
            }
            continue;
        }
        let created: Option<u64> = name.split('_').nth(2).and_then(|s| s.parse().ok());
        if created.is_some_and(|t| now.saturating_sub(t) > STALE_AFTER.as_secs()) {
            let _ = client
                .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
        }
    }
}
