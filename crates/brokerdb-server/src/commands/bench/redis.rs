//! The Redis rows: each operation through the adapters (per pool size) and as the same
//! EVALSHAs from a raw client (the baseline), plus the rate-limit script in redis-benchmark.

use std::time::Duration;

use brokerdb_redis::{ConnSettings, RedisConn};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::BenchConfig;
use super::redis_benchmark::{self, Target};
use super::redis_ops::{self, RedisOp};
use super::stats::Measurement;
use super::timed;
use crate::config::RedisTarget;
use crate::services::Redis;

/// Where redis-benchmark reaches the server `client` is for: a plain TCP or Unix-socket URL
/// (redis-benchmark here has no TLS options).
pub fn benchmark_target(client: &redis::Client) -> anyhow::Result<Target> {
    Ok(match client.get_connection_info().addr() {
        redis::ConnectionAddr::Tcp(host, port) => Target::Tcp {
            host: host.clone(),
            port: *port,
        },
        redis::ConnectionAddr::Unix(path) => Target::Unix(path.clone()),
        _ => anyhow::bail!(
            "the Redis bench needs a plain TCP or Unix-socket Redis URL (redis-benchmark here \
             has no TLS options)"
        ),
    })
}

/// A key prefix (and channel prefix) of this run's own, `brokerdb-bench:<random>:`, so runs
/// sharing a Redis never touch each other's keys.
pub fn run_prefix() -> String {
    format!("brokerdb-bench:{:08x}:", rand::random::<u32>())
}

/// The Redis of rows that go through the adapters (HTTP, cache, outbox): started or reached, and
/// the adapters' connection pool with default settings over it (keep the server while measuring).
pub async fn adapters(target: &RedisTarget) -> anyhow::Result<(Redis, RedisConn)> {
    let server = Redis::start(target).await?;
    let conn = server.connect(ConnSettings::default()).await?;
    Ok((server, conn))
}

/// Measures every Redis operation; returns the rows and the redis-benchmark command lines.
pub async fn measure_all(
    args: &BenchConfig,
    target: &RedisTarget,
) -> anyhow::Result<(Vec<Measurement>, Vec<String>)> {
    let server = Redis::start(target).await?;
    let client = server.client();
    let target = benchmark_target(&client)?;
    let prefix = run_prefix();
    let timeout = Duration::from_secs(5);
    let config = ConnectionManagerConfig::new().set_response_timeout(Some(timeout));
    let mut first = ConnectionManager::new_with_config(client.clone(), config.clone()).await?;
    redis_ops::load_scripts(&mut first).await?;

    let mut rows = Vec::new();
    let mut commands = Vec::new();
    for op in RedisOp::ALL
        .into_iter()
        .filter(|op| args.selects("redis", op.name()))
    {
        for callers in args.concurrency.iter().copied().map(usize::from) {
            for pool in args.redis_pools.iter().copied() {
                eprintln!("{} × {callers}, pool {pool} …", op.name());
                let settings = ConnSettings {
                    command_timeout: timeout,
                    pool_size: usize::from(pool),
                };
                let conn = RedisConn::standalone(client.clone(), settings)?;
                // Fresh keys for every run: idempotency records outlive a run.
                let adapter = redis_ops::adapter(op, &conn, &format!("{prefix}{}a:", rows.len()));
                let mut raw_conns = Vec::new();
                for _ in 0..pool {
                    raw_conns.push(
                        ConnectionManager::new_with_config(client.clone(), config.clone()).await?,
                    );
                }
                let raw = redis_ops::raw(op, raw_conns, &format!("{prefix}{}r:", rows.len()))?;
                let [(lat, elapsed), (raw_lat, raw_elapsed)] =
                    timed::run_interleaved(&adapter, &raw, callers, args.seconds).await?;
                let label = format!("brokerdb-redis adapter, pool {pool}");
                rows.push(
                    Measurement::from_latencies(op.name(), label, callers, lat, elapsed)
                        .in_group(format!("pool {pool}")),
                );
                let label = format!("raw redis-rs, same commands, pool {pool}");
                rows.push(
                    Measurement::from_latencies(op.name(), label, callers, raw_lat, raw_elapsed)
                        .baseline_of(format!("pool {pool}")),
                );
            }
            if op == RedisOp::RateLimit {
                let sha = brokerdb_redis::scripts::by_name("fixed_window")
                    .map(|s| s.sha1)
                    .unwrap_or_default();
                let cmd_args = [
                    "EVALSHA",
                    sha,
                    "1",
                    &format!("{prefix}rl:v1:rb:__rand_int__"),
                    "60000",
                ]
                .map(str::to_owned);
                let (m, line) =
                    redis_benchmark::measure(op.name(), &target, callers, args.seconds, &cmd_args)?;
                rows.push(m);
                commands.push(line);
            }
        }
    }
    Ok((rows, commands))
}

/// Lines comparing the adapter rows with redis-benchmark (same operation and callers).
pub fn versus_redis_benchmark(rows: &[Measurement]) -> Vec<String> {
    rows.iter()
        .filter(|r| r.implementation.starts_with("brokerdb-redis"))
        .filter_map(|r| {
            let rb = rows.iter().find(|x| {
                x.group == "redis-benchmark" && x.operation == r.operation && x.callers == r.callers
            })?;
            Some(format!(
                "{} × {}: {} / redis-benchmark = {:.2}",
                r.operation,
                r.callers,
                r.implementation,
                r.throughput / rb.throughput
            ))
        })
        .collect()
}
