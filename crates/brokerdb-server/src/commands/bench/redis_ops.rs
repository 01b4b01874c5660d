//! The three measured Redis operations, through the adapters and as the same commands sent raw
//! (EVALSHA of the same scripts, no validation, no JSON building beyond a format string).

use std::sync::Arc;
use std::time::Duration;

use brokerdb::model::Timestamp;
use brokerdb_redis::forwarder::{ForwarderCall, ForwarderOptions, ForwarderScope, ForwarderStore};
use brokerdb_redis::policy::{PolicyRateLimitStore, PolicyRuleType, RateLimit, RateLimitRule};
use brokerdb_redis::{RedisConn, scripts};
use redis::aio::ConnectionManager;
use redis::cmd;

use super::timed::Call;

/// A measured Redis operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisOp {
    /// `PolicyRateLimitStore::check_and_consume`: one EVALSHA.
    RateLimit,
    /// Forwarder execution lock acquire then release: SET NX PX + one EVALSHA.
    Lock,
    /// Forwarder idempotency create then complete: two EVALSHAs.
    Idempotency,
}

impl RedisOp {
    /// Every operation.
    pub const ALL: [Self; 3] = [Self::RateLimit, Self::Lock, Self::Idempotency];

    /// Row label.
    pub fn name(self) -> &'static str {
        match self {
            Self::RateLimit => "redis: rate-limit check",
            Self::Lock => "redis: lock acquire + release",
            Self::Idempotency => "redis: idempotency create + complete",
        }
    }
}

const FP: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const RATE_KEYS: u64 = 1000;

fn rule() -> RateLimitRule {
    RateLimitRule {
        rule_type: PolicyRuleType::RateLimit,
        rate_limit: Some(RateLimit {
            max_requests: i32::MAX,
            interval_seconds: 60,
        }),
    }
}

fn sha(name: &str) -> anyhow::Result<&'static str> {
    scripts::by_name(name)
        .map(|s| s.sha1)
        .ok_or_else(|| anyhow::anyhow!("no script named {name}"))
}

/// The operation through the adapters (keys under `prefix`).
pub fn adapter(op: RedisOp, conn: &RedisConn, prefix: &str) -> Call {
    match op {
        RedisOp::RateLimit => {
            let store = PolicyRateLimitStore::new(conn.clone(), Some(prefix));
            Arc::new(move |caller, i| {
                let store = store.clone();
                Box::pin(async move {
                    let key = format!("k{}", (caller as u64 * 7919 + i) % RATE_KEYS);
                    store
                        .check_and_consume(&key, &rule(), Timestamp::now())
                        .await?;
                    Ok(())
                })
            })
        }
        RedisOp::Lock | RedisOp::Idempotency => {
            let options = ForwarderOptions {
                key_prefix: Some(prefix.to_owned()),
                now: None,
            };
            let store = ForwarderStore::new(conn.clone(), options);
            Arc::new(move |caller, i| {
                let store = store.clone();
                Box::pin(async move {
                    let scope = ForwarderScope::new(&ForwarderCall {
                        tenant_id: "t",
                        workload_id: "w",
                        integration_id: "i",
                        action_group: "g",
                        idempotency_key: &format!("c{caller}-{i}"),
                    })?;
                    if op == RedisOp::Lock {
                        let token = store.acquire_execution_lock(&scope, 5_000).await?;
                        let token = token.ok_or_else(|| anyhow::anyhow!("lock not acquired"))?;
                        anyhow::ensure!(store.release_execution_lock(&scope, &token).await?);
                    } else {
                        let expires = Timestamp::now()
                            .checked_add(Duration::from_secs(61))
                            .ok_or_else(|| anyhow::anyhow!("time overflow"))?;
                        let created = store
                            .create_idempotency_record(&scope, FP, "corr", expires)
                            .await?;
                        anyhow::ensure!(created.created());
                        anyhow::ensure!(
                            store
                                .complete_idempotency_record(&scope, "corr", 200, 10)
                                .await?
                        );
                    }
                    Ok(())
                })
            })
        }
    }
}

/// The same commands sent raw over a round-robin pool of `conns`.
pub fn raw(op: RedisOp, conns: Vec<ConnectionManager>, prefix: &str) -> anyhow::Result<Call> {
    let prefix = prefix.to_owned();
    let (fixed_window, release, create, finish) = (
        sha("fixed_window")?,
        sha("delete_if_equal")?,
        sha("idempotency_create")?,
        sha("idempotency_finish")?,
    );
    let conns = Arc::new(conns);
    Ok(Arc::new(move |caller, i| {
        let mut c = conns[(caller + i as usize) % conns.len()].clone();
        let prefix = prefix.clone();
        Box::pin(async move {
            match op {
                RedisOp::RateLimit => {
                    let key = format!("{prefix}rl:v1:k{}", (caller as u64 * 7919 + i) % RATE_KEYS);
                    let _: (i64, i64) = cmd("EVALSHA")
                        .arg(fixed_window)
                        .arg(1)
                        .arg(key)
                        .arg(60_000)
                        .query_async(&mut c)
                        .await?;
                }
                RedisOp::Lock => {
                    let key = format!("{prefix}lock:t:w:i:g:c{caller}-{i}");
                    let token = uuid::Uuid::new_v4().to_string();
                    let set: Option<String> = cmd("SET")
                        .arg(&key)
                        .arg(&token)
                        .arg("NX")
                        .arg("PX")
                        .arg(5_000)
                        .query_async(&mut c)
                        .await?;
                    anyhow::ensure!(set.is_some());
                    let released: i64 = cmd("EVALSHA")
                        .arg(release)
                        .arg(1)
                        .arg(&key)
                        .arg(&token)
                        .query_async(&mut c)
                        .await?;
                    anyhow::ensure!(released == 1);
                }
                RedisOp::Idempotency => {
                    let key = format!("{prefix}idem:t:w:i:g:c{caller}-{i}");
                    let now = Timestamp::now();
                    let exp = now.unix_millis() + 61_000;
                    let record = format!(
                        r#"{{"state":"in_progress","request_fingerprint_sha256":"{FP}","correlation_id":"corr","created_at":"{now}","expires_at":"{now}","expires_at_epoch_ms":{exp}}}"#
                    );
                    let _: redis::Value = cmd("EVALSHA")
                        .arg(create)
                        .arg(1)
                        .arg(&key)
                        .arg(record)
                        .arg(61)
                        .query_async(&mut c)
                        .await?;
                    let updated: i64 = cmd("EVALSHA")
                        .arg(finish)
                        .arg(1)
                        .arg(&key)
                        .arg("corr")
                        .arg("completed")
                        .arg(200)
                        .arg(10)
                        .arg("")
                        .query_async(&mut c)
                        .await?;
                    anyhow::ensure!(updated == 1);
                }
            }
            Ok(())
        })
    }))
}

/// Loads the scripts the raw calls name (EVALSHA needs them on the server).
pub async fn load_scripts(conn: &mut ConnectionManager) -> anyhow::Result<()> {
    for name in [
        "fixed_window",
        "delete_if_equal",
        "idempotency_create",
        "idempotency_finish",
    ] {
        let info = scripts::by_name(name).ok_or_else(|| anyhow::anyhow!("no script {name}"))?;
        let loaded: String = cmd("SCRIPT")
            .arg("LOAD")
            .arg(info.source)
            .query_async(conn)
            .await?;
        anyhow::ensure!(loaded == info.sha1, "SHA-1 mismatch for {name}");
    }
    Ok(())
}
