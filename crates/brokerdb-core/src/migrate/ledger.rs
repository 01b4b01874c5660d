//! Reading and writing the migration ledger.

use std::collections::BTreeMap;
use std::time::SystemTime;

use tokio_postgres::{Client, GenericClient};

use crate::db::Db;

use super::{Migration, MigrationError, MigrationSet, MigrationState, MigrationStatus};

/// The table whose lock serializes migrators. Nobody but its creator (the migrating superuser
/// or owner member) has a privilege on it, so no runtime role can lock it to block `migrate`
/// (an advisory lock, which any role can take, could be held to do exactly that).
const CREATE_LOCK_TABLE: &str = "CREATE TABLE IF NOT EXISTS brokerdb_migration_lock ()";
const TAKE_LOCK: &str = "LOCK TABLE brokerdb_migration_lock IN ACCESS EXCLUSIVE MODE";
/// Database-level privileges and per-database role settings are not copied by `CREATE DATABASE …
/// TEMPLATE` nor restored by `pg_dump` without `--create`, so every run re-asserts them: no
/// temporary tables for anyone but superusers (a temporary table shadows a real one for any
/// function that searches `pg_temp`), and no JIT for the runtime roles.
const HARDEN_DATABASE: &str = "DO $harden$
BEGIN
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'brokerdb_app') THEN
        EXECUTE format('REVOKE TEMPORARY, CREATE ON DATABASE %I FROM brokerdb_app, brokerdb_system',
                       current_database());
        -- No JIT for the runtime roles: their statements read tens of rows, but a generic plan
        -- of a list page is costed for 10 % of the tenant, which crossed jit_above_cost and
        -- spent ~400 ms compiling for a 1 ms page at 1M users. Per role in this database (also
        -- not copied by TEMPLATE); skipped with a warning when the migrating user may not.
        BEGIN
            EXECUTE format('ALTER ROLE brokerdb_app IN DATABASE %I SET jit = off', current_database());
            EXECUTE format('ALTER ROLE brokerdb_system IN DATABASE %I SET jit = off', current_database());
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE WARNING 'brokerdb: cannot turn JIT off for the runtime roles (%); list pages may spend hundreds of ms compiling', SQLERRM
                USING HINT = 'As a superuser: ALTER ROLE brokerdb_app IN DATABASE <db> SET jit = off (and brokerdb_system)';
        END;
    END IF;
END
$harden$";
const STILL_TEMPORARY: &str = "SELECT r.rolname::text FROM pg_catalog.pg_roles r
     WHERE r.rolname IN ('brokerdb_app', 'brokerdb_system')
       AND has_database_privilege(r.oid, current_database(), 'TEMPORARY')
     ORDER BY 1 LIMIT 1";

const LEDGER_EXISTS: &str = "SELECT to_regclass('public.brokerdb_schema_migrations') IS NOT NULL";
const LEDGER_ROWS: &str =
    "SELECT version, name, checksum, applied_at FROM brokerdb_schema_migrations
     WHERE set_name = $1 ORDER BY version";
/// One ledger for every set: a row per `(set_name, version)`.
const CREATE_LEDGER: &str = "CREATE TABLE IF NOT EXISTS brokerdb_schema_migrations (
    set_name TEXT NOT NULL DEFAULT 'brokerdb',
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT brokerdb_schema_migrations_pkey PRIMARY KEY (set_name, version)
)";
/// A ledger from before migration sets (one set, keyed by version) gains the set column; every
/// row it holds is the broker's.
const UPGRADE_LEDGER: &str = "DO $ledger$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute
                   WHERE attrelid = 'public.brokerdb_schema_migrations'::regclass
                     AND attname = 'set_name' AND NOT attisdropped) THEN
        ALTER TABLE public.brokerdb_schema_migrations
            ADD COLUMN set_name TEXT NOT NULL DEFAULT 'brokerdb',
            DROP CONSTRAINT brokerdb_schema_migrations_pkey,
            ADD CONSTRAINT brokerdb_schema_migrations_pkey PRIMARY KEY (set_name, version);
    END IF;
END
$ledger$";
const OLD_LEDGER_ROWS: &str =
    "SELECT version, name, checksum, applied_at FROM brokerdb_schema_migrations ORDER BY version";
const RECORD: &str = "INSERT INTO brokerdb_schema_migrations (set_name, version, name, checksum)
     VALUES ($1, $2, $3, $4)";

struct LedgerRow {
    name: String,
    checksum: String,
    applied_at: SystemTime,
}

async fn ledger_exists(client: &impl GenericClient) -> Result<bool, tokio_postgres::Error> {
    Ok(client.query_typed_one(LEDGER_EXISTS, &[]).await?.get(0))
}

async fn read_ledger(
    client: &impl GenericClient,
    set: &MigrationSet,
) -> Result<BTreeMap<u32, LedgerRow>, MigrationError> {
    let db = |source| MigrationError::Database {
        action: "read the migration ledger",
        source,
    };
    let mut rows = BTreeMap::new();
    if !ledger_exists(client).await.map_err(db)? {
        return Ok(rows);
    }
    // Unnamed statements: `migration_status` reads through the runtime pool, which may be a
    // transaction pooler's.
    let name = set.name;
    let rows_of_set = match client
        .query_typed(LEDGER_ROWS, &[(&name, tokio_postgres::types::Type::TEXT)])
        .await
    {
        Ok(rows) => rows,
        // A ledger from before migration sets, not upgraded yet: every row is the broker's.
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_COLUMN) => {
            if set.name != MigrationSet::BROKER {
                return Ok(rows);
            }
            client.query_typed(OLD_LEDGER_ROWS, &[]).await.map_err(db)?
        }
        Err(e) => return Err(db(e)),
    };
    for row in rows_of_set {
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

/// The state of every migration of `set` (and of applied ones of that set this build does not
/// know), in version order. Reads only; a database without a ledger has every migration pending.
pub async fn status_of_set(
    client: &Client,
    set: &MigrationSet,
) -> Result<Vec<MigrationStatus>, MigrationError> {
    status_of(client, set).await
}

impl Db {
    /// The state of `set`'s migrations, read as the runtime role through this handle's pool:
    /// what a readiness probe asks (`brokerdb migrate` grants the runtime role `SELECT` on the
    /// ledger and nothing else of it). Reads only.
    pub async fn migration_status(
        &self,
        set: &MigrationSet,
    ) -> Result<Vec<MigrationStatus>, MigrationError> {
        let pooled = self
            .pool(false)
            .get()
            .await
            .map_err(|source| MigrationError::Connect { source })?;
        let client: &Client = &pooled;
        status_of(client, set).await
    }
}

async fn status_of(
    client: &impl GenericClient,
    set: &MigrationSet,
) -> Result<Vec<MigrationStatus>, MigrationError> {
    let mut ledger = read_ledger(client, set).await?;
    let mut out = Vec::new();
    for m in set.migrations {
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

/// Applies every pending migration of `sets`, in the order given (every pending migration of a
/// set before the next set's: a later set may build on an earlier one's schema), each in its own
/// transaction with its ledger row, and returns the ones applied, in order. Refuses (applying
/// nothing more) when an applied migration has changed. Each transaction first locks
/// `brokerdb_migration_lock` and re-reads the ledger, so concurrent callers wait rather than
/// race. Then it revokes `TEMPORARY` on the database from everyone (every run: see
/// `HARDEN_DATABASE`) and fails if a runtime role still has it.
pub async fn apply_sets(
    client: &mut Client,
    sets: &[MigrationSet],
) -> Result<Vec<Migration>, MigrationError> {
    bootstrap(client).await?;
    let mut applied = Vec::new();
    for set in sets {
        while let Some(m) = apply_next(client, set).await? {
            applied.push(m);
        }
    }
    harden(client).await?;
    Ok(applied)
}

/// Creates the ledger and the lock table if missing. Two migrators creating them at once can
/// collide in the catalog; the loser sees them on its second try.
async fn bootstrap(client: &Client) -> Result<(), MigrationError> {
    let create = |source| MigrationError::Database {
        action: "create the migration ledger",
        source,
    };
    let mut attempt = 0;
    loop {
        let result = async {
            client.batch_execute(CREATE_LOCK_TABLE).await?;
            if ledger_exists(client).await? {
                // Under the lock: two upgraders must not both alter the ledger.
                client
                    .batch_execute(&format!("BEGIN; {TAKE_LOCK}; {UPGRADE_LEDGER}; COMMIT;"))
                    .await
            } else {
                client.batch_execute(CREATE_LEDGER).await
            }
        }
        .await;
        match result {
            Ok(()) => return Ok(()),
            Err(e) if attempt < 10 && is_catalog_race(&e) => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(10 * attempt)).await;
            }
            Err(e) => return Err(create(e)),
        }
    }
}

fn is_catalog_race(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    e.code().is_some_and(|c| {
        *c == SqlState::UNIQUE_VIOLATION
            || *c == SqlState::DUPLICATE_TABLE
            || *c == SqlState::DUPLICATE_OBJECT
    })
}

/// Applies the lowest pending migration under the lock; `None` when nothing is pending.
async fn apply_next(
    client: &mut Client,
    set: &MigrationSet,
) -> Result<Option<Migration>, MigrationError> {
    let lock = |source| MigrationError::Database {
        action: "take the migration lock",
        source,
    };
    let tx = client.transaction().await.map_err(lock)?;
    tx.batch_execute(TAKE_LOCK).await.map_err(lock)?;
    let statuses = status_of(&tx, set).await?;
    for s in &statuses {
        if let MigrationState::Changed { applied_checksum } = &s.state {
            let embedded = set.migrations.iter().find(|m| m.version == s.version);
            return Err(MigrationError::Changed {
                label: format!("{:04}_{}", s.version, s.name),
                applied: applied_checksum.clone(),
                embedded: embedded.map(Migration::checksum).unwrap_or_default(),
            });
        }
    }
    let Some(m) = set.migrations.iter().find(|m| {
        statuses
            .iter()
            .any(|s| s.version == m.version && s.state == MigrationState::Pending)
    }) else {
        tx.commit().await.map_err(lock)?;
        return Ok(None);
    };
    let failed = |source| MigrationError::Failed {
        label: m.label(),
        source,
    };
    tx.batch_execute(m.sql).await.map_err(failed)?;
    let version = i32::try_from(m.version).unwrap_or(i32::MAX);
    tx.execute(RECORD, &[&set.name, &version, &m.name, &m.checksum()])
        .await
        .map_err(failed)?;
    tx.commit().await.map_err(failed)?;
    tracing::info!(migration = %m.label(), "applied migration");
    Ok(Some(*m))
}

/// Revokes `TEMPORARY` on the database and checks that it took, under the migration lock:
/// concurrent migrators updating the database's ACL at once fail with "tuple concurrently
/// updated".
async fn harden(client: &mut Client) -> Result<(), MigrationError> {
    let db = |source| MigrationError::Database {
        action: "revoke TEMPORARY on the database",
        source,
    };
    let tx = client.transaction().await.map_err(db)?;
    tx.batch_execute(TAKE_LOCK).await.map_err(db)?;
    tx.batch_execute(HARDEN_DATABASE).await.map_err(db)?;
    if let Some(row) = tx.query_opt(STILL_TEMPORARY, &[]).await.map_err(db)? {
        return Err(MigrationError::Insecure { role: row.get(0) });
    }
    tx.commit().await.map_err(db)
}
