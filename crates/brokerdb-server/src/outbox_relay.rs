//! The outbox relay's options and how the service starts it: `serve` and `worker` both run one
//! unless `OUTBOX_RELAY_ENABLED=false`. Relays on several instances share the work (each row is
//! claimed by one of them).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use brokerdb::db::Db;
use brokerdb::outbox::{self, RelayHandle, RelaySettings};
use brokerdb_redis::RedisConn;
use brokerdb_redis::outbox::OutboxRedisPublisher;
use brokerdb_redis::policy::PolicyInvalidationBus;
use brokerdb_redis::ssrf::{SsrfGuardOptions, SsrfGuardStore};
use clap::{ArgAction, Args};

use crate::config::positive;

/// How the template-invalidation outbox is delivered.
#[derive(Debug, Clone, Args)]
pub struct OutboxArgs {
    /// Run the outbox relay in this process: it publishes committed template-invalidation rows
    /// on the Redis invalidation channels, at least once.
    #[arg(long, env = "OUTBOX_RELAY_ENABLED", default_value_t = true, action = ArgAction::Set)]
    pub outbox_relay_enabled: bool,
    /// Pause between relay rounds when the outbox is drained: how long a committed row waits
    /// for its first publish.
    #[arg(long, env = "OUTBOX_INTERVAL", default_value = "100ms", value_parser = humantime::parse_duration)]
    pub outbox_interval: Duration,
    /// Rows claimed per relay transaction.
    #[arg(long, env = "OUTBOX_BATCH", default_value_t = 500,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub outbox_batch: u32,
    /// Publishes tried per row before it is marked failed (its last error is kept).
    #[arg(long, env = "OUTBOX_MAX_ATTEMPTS", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub outbox_max_attempts: u32,
    /// Wait before a row's second attempt; doubled for each further one.
    #[arg(long, env = "OUTBOX_BACKOFF_BASE", default_value = "1s", value_parser = humantime::parse_duration)]
    pub outbox_backoff_base: Duration,
    /// Longest wait between two attempts of a row.
    #[arg(long, env = "OUTBOX_BACKOFF_MAX", default_value = "5m", value_parser = humantime::parse_duration)]
    pub outbox_backoff_max: Duration,
}

impl OutboxArgs {
    /// The relay's settings, `None` when it is switched off, or the first bad value's error.
    pub fn settings(&self) -> anyhow::Result<Option<RelaySettings>> {
        let settings = RelaySettings {
            interval: positive("OUTBOX_INTERVAL", self.outbox_interval)?,
            batch: self.outbox_batch,
            max_attempts: self.outbox_max_attempts,
            backoff_base: positive("OUTBOX_BACKOFF_BASE", self.outbox_backoff_base)?,
            backoff_max: positive("OUTBOX_BACKOFF_MAX", self.outbox_backoff_max)?,
        };
        if settings.backoff_max < settings.backoff_base {
            anyhow::bail!("OUTBOX_BACKOFF_MAX must not be shorter than OUTBOX_BACKOFF_BASE");
        }
        Ok(self.outbox_relay_enabled.then_some(settings))
    }
}

/// Starts the relay over `db` and `redis`, publishing on the default channels
/// (`broker:pe:invalidation:v1` and `broker:ssrf:invalidation:v1`).
pub fn spawn(db: Db, redis: RedisConn, settings: RelaySettings) -> anyhow::Result<RelayHandle> {
    let signals = SsrfGuardStore::new(redis.clone(), SsrfGuardOptions::default())
        .context("the template-invalidation signal channel cannot be set up")?;
    let publisher = OutboxRedisPublisher::new(PolicyInvalidationBus::new(redis, None), signals);
    Ok(outbox::spawn_relay(db, Arc::new(publisher), settings))
}
