//! The Redis side of the tiered read cache (`brokerdb-cache`): generation-keyed entries,
//! generation bumps, and the invalidation channel.
//!
//! The store takes keys its caller built (with [`encode_key_part`] for every caller-supplied
//! part, so the crate's no-collision rule holds) and adds no prefix of its own. An entry key is
//! `<entry key without generation><generation>`: [`ReadCacheStore::read`] reads the generation
//! and the entry stored under it in one round trip (`src/lua/cache_read.lua`), so a bump (a new
//! random generation, one SET) makes every older entry of that generation key unreachable at
//! once; the old entries expire by their TTL. The generation key and the entry keys must share
//! a hash tag (cluster slot).
//!
//! Unlike the other cache adapters, reads here do **not** fail open: a Redis failure is
//! returned, and the caller decides (the read cache loads from PostgreSQL and counts it).

use std::sync::Arc;
use std::time::Duration;

use redis::cmd;

use crate::pubsub::{self, Subscription};
use crate::scripts::CACHE_READ;
use crate::support::expect_ok;
use crate::{AdapterError, RedisConn};

pub use crate::keys::{encode_key_part, push_encoded_key_part};

/// A fresh generation: 16 random lower-case hex digits (what a missing generation key gets,
/// and what a bump writes).
pub fn fresh_generation() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Generation-keyed reads and writes, bumps and the invalidation channel over one connection.
#[derive(Clone, Debug)]
pub struct ReadCacheStore {
    conn: RedisConn,
}

/// What [`ReadCacheStore::read`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerationRead {
    /// The generation current when read (created if it was missing).
    pub generation: String,
    /// The value stored under it, if any.
    pub value: Option<Vec<u8>>,
}

impl ReadCacheStore {
    /// A store over `conn`.
    pub fn new(conn: RedisConn) -> Self {
        Self { conn }
    }

    /// The current generation of `generation_key` (a fresh one is stored when missing) and the
    /// value at `entry_key_base` + that generation, in one round trip.
    pub async fn read(
        &self,
        generation_key: &str,
        entry_key_base: &str,
    ) -> Result<GenerationRead, AdapterError> {
        let reply: Vec<Vec<u8>> = self
            .conn
            .invoke(
                CACHE_READ
                    .key(generation_key)
                    .key(entry_key_base)
                    .arg(fresh_generation()),
            )
            .await?;
        let mut parts = reply.into_iter();
        let generation = parts
            .next()
            .and_then(|g| String::from_utf8(g).ok())
            .ok_or_else(|| AdapterError::unexpected("cache script returned no generation"))?;
        Ok(GenerationRead {
            generation,
            value: parts.next(),
        })
    }

    /// Stores `value` at `entry_key_base` + `generation` for `ttl` (at least 1 ms).
    pub async fn write(
        &self,
        entry_key_base: &str,
        generation: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<(), AdapterError> {
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let key = format!("{entry_key_base}{generation}");
        expect_ok(
            self.conn
                .query(cmd("SET").arg(key).arg(value).arg("PX").arg(millis))
                .await?,
        )
    }

    /// Replaces the generation of `generation_key` with a fresh one (one SET, O(1)): every
    /// entry stored under the old one is unreachable from now on. Returns the new generation.
    pub async fn bump(&self, generation_key: &str) -> Result<String, AdapterError> {
        let generation = fresh_generation();
        expect_ok(
            self.conn
                .query(cmd("SET").arg(generation_key).arg(&generation))
                .await?,
        )?;
        Ok(generation)
    }

    /// Publishes `payload` on `channel`; returns how many subscribers (of the node that took
    /// it) received it.
    pub async fn publish(&self, channel: &str, payload: &str) -> Result<u64, AdapterError> {
        pubsub::publish(&self.conn, channel, payload).await
    }

    /// Calls `on_message` with the payload of every message published on `channel` from now
    /// on, and `on_resubscribed` each time a lost subscription is established again (messages
    /// published while it was lost were not delivered). Resolves once subscribed; the handle
    /// unsubscribes. Needs pub/sub sources (`RedisConn::with_subscribers`; a standalone
    /// connection has them).
    pub async fn subscribe(
        &self,
        channel: &str,
        on_message: impl Fn(Vec<u8>) + Send + Sync + 'static,
        on_resubscribed: impl Fn() + Send + Sync + 'static,
    ) -> Result<Subscription, AdapterError> {
        pubsub::subscribe_with(
            &self.conn,
            channel.to_owned(),
            |payload| Some(payload.to_vec()),
            Arc::new(on_message),
            Some(Arc::new(on_resubscribed)),
        )
        .await
    }
}
