//! Reading and writing the migration ledger.

use std::collections::BTreeMap;
use std::time::SystemTime;

use tokio_postgres::Client;

use super::{Migration, MigrationError, MigrationState, MigrationStatus};

/// Session advisory lock key held while migrating, so concurrent migrators of one database
/// apply each migration once.
const MIGRATION_LOCK_KEY: i64 = 0x6272_6f6b_6572_6462; // "brokerdb"

const LEDGER_EXISTS: &str = "SELECT to_regclass('public.brokerdb_schema_migrations') IS NOT NULL";
const LEDGER_ROWS: &str =
    "SELECT version, name, checksum, applied_at FROM brokerdb_schema_migrations ORDER BY version";
const CREATE_LEDGER: &str = "CREATE TABLE brokerdb_schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)";
const RECORD: &str =
    "INSERT INTO brokerdb_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)";

struct LedgerRow {
    name: String,
    checksum: String,
    applied_at: SystemTime,
}

async fn ledger_exists(client: &Client) -> Result<bool, tokio_postgres::Error> {
    Ok(client.query_one(LEDGER_EXISTS, &[]).await?.get(0))
}

async fn read_ledger(client: &Client) -> Result<BTreeMap<u32, LedgerRow>, MigrationError> {
    let db = |source| MigrationError::Database {
        action: "read the migration ledger",
        source,
    };
    let mut rows = BTreeMap::new();
    if !ledger_exists(client).await.map_err(db)? {
        return Ok(rows);
    }
    for row in client.query(LEDGER_ROWS, &[]).await.map_err(db)? {
        let version: i32 = row.get(0);
        rows.insert(
            version.unsigned_abs(),
            LedgerRow {
                name: row.get(1),
                checksum: row.get(2),
                applied_at: row.get(3),
            },
        );
    }
    Ok(rows)
}

/// The state of every embedded migration (and of applied ones this build does not know), in
/// version order. Reads only; a database without a ledger has every migration pending.
pub async fn status(client: &Client) -> Result<Vec<MigrationStatus>, MigrationError> {
    let mut ledger = read_ledger(client).await?;
    let mut out = Vec::new();
    for m in Migration::embedded() {
        let state = match ledger.remove(&m.version) {
            None => MigrationState::Pending,
            Some(row) if row.checksum == m.checksum() => MigrationState::Applied {
                applied_at: row.applied_at,
            },
            Some(row) => MigrationState::Changed {
                applied_checksum: row.checksum,
            },
        };
        out.push(MigrationStatus {
            version: m.version,
            name: m.name.to_owned(),
            state,
        });
    }
    for (version, row) in ledger {
        out.push(MigrationStatus {
            version,
            name: row.name,
            state: MigrationState::Unknown,
        });
    }
    out.sort_by_key(|s| s.version);
    Ok(out)
}

/// Applies every pending migration in version order, each in its own transaction with its ledger
/// row, and returns the ones applied. Refuses (applying nothing) when an applied migration has
/// changed. Holds a session advisory lock meanwhile, so concurrent callers wait rather than race.
pub async fn apply_pending(client: &mut Client) -> Result<Vec<Migration>, MigrationError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await
        .map_err(|source| MigrationError::Database {
            action: "take the migration lock",
            source,
        })?;
    let result = apply_locked(client).await;
    let unlock = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
        .await;
    let applied = result?;
    unlock.map_err(|source| MigrationError::Database {
        action: "release the migration lock",
        source,
    })?;
    Ok(applied)
}

async fn apply_locked(client: &mut Client) -> Result<Vec<Migration>, MigrationError> {
    let create = |source| MigrationError::Database {
        action: "create the migration ledger",
        source,
    };
    if !ledger_exists(client).await.map_err(create)? {
        client.batch_execute(CREATE_LEDGER).await.map_err(create)?;
    }
    let statuses = status(client).await?;
    for s in &statuses {
        if let MigrationState::Changed { applied_checksum } = &s.state {
            let embedded = Migration::embedded()
                .iter()
                .find(|m| m.version == s.version);
            return Err(MigrationError::Changed {
                label: format!("{:04}_{}", s.version, s.name),
                applied: applied_checksum.clone(),
                embedded: embedded.map(Migration::checksum).unwrap_or_default(),
            });
        }
    }
    let pending: Vec<Migration> = Migration::embedded()
        .iter()
        .filter(|m| {
            statuses
                .iter()
                .any(|s| s.version == m.version && s.state == MigrationState::Pending)
        })
        .copied()
        .collect();
    for m in &pending {
        let failed = |source| MigrationError::Failed {
            label: m.label(),
            source,
        };
        let tx = client.transaction().await.map_err(failed)?;
        tx.batch_execute(m.sql).await.map_err(failed)?;
        let version = i32::try_from(m.version).unwrap_or(i32::MAX);
        tx.execute(RECORD, &[&version, &m.name, &m.checksum()])
            .await
            .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        tracing::info!(migration = %m.label(), "applied migration");
    }
    Ok(pending)
}
