//! Liveness and readiness.

use std::future::Future;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use brokerdb::db::{Db, DbError, SystemExec, TenantExec};
use brokerdb::migrate::Migration;
use brokerdb::model::TenantId;
use serde::Serialize;

use crate::app::AppState;
use crate::services::probe_redis;

/// Each dependency check gives up after this long, so readiness never hangs.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /healthz`: the process is up (no dependency is checked).
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// One dependency's state.
#[derive(Debug, Serialize)]
pub struct Check {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl Check {
    fn ok() -> Self {
        Self {
            status: "ok",
            error: None,
        }
    }
    fn failed(error: impl Into<String>) -> Self {
        Self {
            status: "unavailable",
            error: Some(error.into()),
        }
    }
    fn is_ok(&self) -> bool {
        self.status == "ok"
    }
}

/// Migration state as readiness reports it.
#[derive(Debug, Serialize)]
pub struct MigrationsCheck {
    #[serde(flatten)]
    check: Check,
    applied: usize,
    pending: usize,
}

/// `GET /readyz` body.
#[derive(Debug, Serialize)]
pub struct Readiness {
    status: &'static str,
    database: Check,
    redis: Check,
    migrations: MigrationsCheck,
}

async fn within<T>(what: &str, fut: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    tokio::time::timeout(CHECK_TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| Err(format!("{what} timed out")))
}

/// `GET /readyz`: 200 when PostgreSQL (both roles) and Redis answer and every migration is
/// applied; 503 otherwise, saying which is not.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let (db, redis) = tokio::join!(check_database(&state), check_redis(&state));
    let (database, migrations) = db;
    let ready = database.is_ok() && redis.is_ok() && migrations.check.is_ok();
    let body = Readiness {
        status: if ready { "ok" } else { "unavailable" },
        database,
        redis,
        migrations,
    };
    (
        if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(body),
    )
}

/// Whether the ledger exists: a database nobody has migrated has none (every migration pending).
const LEDGER_EXISTS: &str = "SELECT to_regclass('public.brokerdb_schema_migrations') IS NOT NULL";
/// Every applied migration (`brokerdb migrate` grants the runtime role SELECT on the ledger).
const LEDGER_ROWS: &str = "SELECT version, checksum FROM public.brokerdb_schema_migrations";
/// The tenant the runtime-role probe runs for. The ledger has no row-level security, so the
/// tenant only satisfies the scope: no tenant data is read.
const PROBE_TENANT: &str = "brokerdb.readiness";

/// Counts of the embedded migrations against the ledger.
#[derive(Debug, Default, PartialEq, Eq)]
struct MigrationCounts {
    applied: usize,
    pending: usize,
    changed: usize,
}

/// Counts `ledger` (version, checksum) against the embedded migrations; ledger rows this build
/// does not know (applied by a newer brokerdb) count in none.
fn count_migrations(ledger: &[(i32, String)]) -> MigrationCounts {
    let mut counts = MigrationCounts::default();
    for m in Migration::embedded() {
        match ledger
            .iter()
            .find(|(v, _)| i64::from(*v) == i64::from(m.version))
        {
            None => counts.pending += 1,
            Some((_, checksum)) if *checksum == m.checksum() => counts.applied += 1,
            Some(_) => counts.changed += 1,
        }
    }
    counts
}

/// Reads the migration ledger as the runtime role, through the data layer (a tenant-scope
/// executor, so the reads show in the repository metrics as `health`/`migrations`).
async fn read_ledger(db: &Db) -> Result<Vec<(i32, String)>, DbError> {
    let tenant = TenantId::parse(PROBE_TENANT)?;
    let mut scope = db.tenant(&tenant);
    let exists = scope
        .op("health", "migrations")
        .query_one(LEDGER_EXISTS, &[], |row| Ok(row.try_get::<_, bool>(0)?))
        .await?;
    if !exists {
        return Ok(Vec::new());
    }
    scope
        .op("health", "migrations")
        .query_all(LEDGER_ROWS, &[], |row| {
            Ok((row.try_get::<_, i32>(0)?, row.try_get::<_, String>(1)?))
        })
        .await
}

async fn check_database(state: &AppState) -> (Check, MigrationsCheck) {
    let unknown = |msg: &str| MigrationsCheck {
        check: Check::failed(msg),
        applied: 0,
        pending: 0,
    };
    // Both roles, through the data layer, so the probes show in the repository metrics.
    let system = within("system role", async {
        state
            .db
            .system()
            .op("health", "ping")
            .execute("SELECT 1", &[])
            .await
            .map(|_| ())
            .map_err(|e| format!("system role: {e}"))
    });
    let runtime = within("runtime role", async {
        read_ledger(&state.db)
            .await
            .map_err(|e| format!("runtime role: {e}"))
    });
    let (system, runtime) = tokio::join!(system, runtime);
    let ledger = match (system, runtime) {
        (Ok(()), Ok(ledger)) => ledger,
        (Err(e), _) | (_, Err(e)) => return (Check::failed(e), unknown("database unavailable")),
    };
    let MigrationCounts {
        applied,
        pending,
        changed,
    } = count_migrations(&ledger);
    let check = if changed > 0 {
        Check::failed(format!(
            "{changed} applied migration(s) changed since they were applied"
        ))
    } else if pending > 0 {
        Check::failed(format!(
            "{pending} pending migration(s); run `brokerdb migrate`"
        ))
    } else {
        Check::ok()
    };
    (
        Check::ok(),
        MigrationsCheck {
            check,
            applied,
            pending,
        },
    )
}

async fn check_redis(state: &AppState) -> Check {
    let probe = within("redis", async {
        probe_redis(&state.redis).await.map_err(|e| e.to_string())
    });
    match probe.await {
        Ok(()) => Check::ok(),
        Err(e) => Check::failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger_of(migrations: &[Migration]) -> Vec<(i32, String)> {
        migrations
            .iter()
            .map(|m| (i32::try_from(m.version).unwrap_or(i32::MAX), m.checksum()))
            .collect()
    }

    #[test]
    fn migrations_are_counted_applied_pending_or_changed() {
        let all = Migration::embedded();
        let n = all.len();
        assert_eq!(
            count_migrations(&[]),
            MigrationCounts {
                applied: 0,
                pending: n,
                changed: 0
            }
        );
        let mut ledger = ledger_of(all);
        assert_eq!(count_migrations(&ledger).applied, n);
        ledger[0].1 = "abc".to_owned();
        ledger.pop();
        // One from a newer brokerdb: counted in none.
        ledger.push((i32::MAX, "newer".to_owned()));
        assert_eq!(
            count_migrations(&ledger),
            MigrationCounts {
                applied: n - 2,
                pending: 1,
                changed: 1
            }
        );
    }
}
