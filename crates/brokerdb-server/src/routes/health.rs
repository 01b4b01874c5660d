//! Liveness and readiness.

use std::future::Future;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use brokerdb::db::Exec;
use brokerdb::migrate::{MigrationState, MigrationStatus};
use serde::Serialize;

use crate::app::AppState;

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

/// How many migrations are applied, pending, or changed since they were applied.
#[derive(Debug, Default, PartialEq, Eq)]
struct MigrationCounts {
    applied: usize,
    pending: usize,
    changed: usize,
}

/// Counts the states; migrations applied by a newer brokerdb (unknown here) count in none.
fn count_migrations(statuses: &[MigrationStatus]) -> MigrationCounts {
    let mut counts = MigrationCounts::default();
    for status in statuses {
        match status.state {
            MigrationState::Applied { .. } => counts.applied += 1,
            MigrationState::Pending => counts.pending += 1,
            MigrationState::Changed { .. } => counts.changed += 1,
            MigrationState::Unknown => {}
        }
    }
    counts
}

async fn check_database(state: &AppState) -> (Check, MigrationsCheck) {
    let unknown = |msg: &str| MigrationsCheck {
        check: Check::failed(msg),
        applied: 0,
        pending: 0,
    };
    // Both roles through the data layer: the system role pings (an observed op, in the repository
    // metrics), the runtime role reads the migration ledger.
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
        // Every set the binary applies: the core's, then the project store's.
        let mut statuses = Vec::new();
        for set in crate::schema::migration_sets() {
            let of_set = state
                .db
                .migration_status(&set)
                .await
                .map_err(|e| format!("runtime role: {e}"))?;
            statuses.extend(of_set);
        }
        Ok::<_, String>(statuses)
    });
    let (system, runtime) = tokio::join!(system, runtime);
    let statuses = match (system, runtime) {
        (Ok(()), Ok(statuses)) => statuses,
        (Err(e), _) | (_, Err(e)) => return (Check::failed(e), unknown("database unavailable")),
    };
    let MigrationCounts {
        applied,
        pending,
        changed,
    } = count_migrations(&statuses);
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
        state.redis.ping().await.map_err(|e| e.to_string())
    });
    match probe.await {
        Ok(()) => Check::ok(),
        Err(e) => Check::failed(e),
    }
}
