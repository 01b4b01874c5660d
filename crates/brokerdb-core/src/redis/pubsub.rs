//! Pub/sub fan-out shared by the policy-engine invalidation bus, the SSRF template signal and
//! adapters built outside this crate (the project store's channel): [`publish`], [`subscribe`].
//!
//! Each subscription owns one subscriber connection (opened from the clients given with
//! [`RedisConn::with_subscribers`], tried in order) and a task that decodes every message and
//! hands valid ones to the handler; invalid or unparsable messages are dropped. When the
//! connection is lost the task re-dials with backoff and subscribes again, so a subscription
//! survives a Redis restart (messages published while it was away are lost: pub/sub is
//! best-effort; the PostgreSQL outbox is the durable path). Classic PUBLISH reaches every node
//! of a cluster, so a subscriber on any node receives messages published through any other.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::PubSub;
use tokio::task::AbortHandle;

use crate::redis::{AdapterError, RedisConn};

const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// A live subscription. [`Subscription::unsubscribe`] (or dropping it) detaches the handler at
/// once, synchronously, and closes its connection; other subscriptions are unaffected.
#[derive(Debug)]
pub struct Subscription {
    closed: Arc<AtomicBool>,
    task: AbortHandle,
}

impl Subscription {
    /// Stops delivery to this subscription's handler. Idempotent.
    pub fn unsubscribe(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.task.abort();
    }

    /// True once unsubscribed.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.unsubscribe();
    }
}

/// Called after a lost subscription is established again: messages published in between were
/// not delivered, so a subscriber that caches may want to drop what it holds.
pub type OnResubscribed = Arc<dyn Fn() + Send + Sync>;

/// Subscribes `handler` to `channel`: every message `decode` accepts is handed to `handler`
/// (others are dropped). Resolves once the server has confirmed the subscription (Redis
/// unreachable → `unavailable`; no subscriber source → `dependency_missing`).
pub async fn subscribe<T: Send + 'static>(
    conn: &RedisConn,
    channel: String,
    decode: fn(&[u8]) -> Option<T>,
    handler: Arc<dyn Fn(T) + Send + Sync>,
) -> Result<Subscription, AdapterError> {
    subscribe_with(conn, channel, decode, handler, None).await
}

/// [`subscribe`], calling `on_resubscribed` each time a lost subscription is back.
pub async fn subscribe_with<T: Send + 'static>(
    conn: &RedisConn,
    channel: String,
    decode: fn(&[u8]) -> Option<T>,
    handler: Arc<dyn Fn(T) + Send + Sync>,
    on_resubscribed: Option<OnResubscribed>,
) -> Result<Subscription, AdapterError> {
    let clients = conn.subscribers().to_vec();
    if clients.is_empty() {
        return Err(AdapterError::DependencyMissing {
            what: "a pub/sub connection source (RedisConn::with_subscribers)",
        });
    }
    let timeout = conn.command_timeout();
    let first = open(&clients, &channel, timeout).await?;
    let closed = Arc::new(AtomicBool::new(false));
    let flag = closed.clone();
    let task = tokio::spawn(async move {
        let mut pubsub = first;
        loop {
            let mut messages = pubsub.into_on_message();
            while let Some(msg) = messages.next().await {
                if flag.load(Ordering::SeqCst) {
                    return;
                }
                if let Some(event) = decode(msg.get_payload_bytes()) {
                    // A panicking handler must not end the subscription.
                    let call = std::panic::AssertUnwindSafe(|| handler(event));
                    if std::panic::catch_unwind(call).is_err() {
                        tracing::error!("a pub/sub handler panicked; the message was dropped");
                    }
                }
            }
            tracing::warn!("redis subscription lost; resubscribing");
            let mut backoff = Duration::from_millis(50);
            pubsub = loop {
                if flag.load(Ordering::SeqCst) {
                    return;
                }
                match open(&clients, &channel, timeout).await {
                    Ok(p) => {
                        if let Some(hook) = &on_resubscribed {
                            let call = std::panic::AssertUnwindSafe(|| hook());
                            if std::panic::catch_unwind(call).is_err() {
                                tracing::error!("a pub/sub resubscribe hook panicked");
                            }
                        }
                        break p;
                    }
                    Err(_) => {
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            };
        }
    });
    Ok(Subscription {
        closed,
        task: task.abort_handle(),
    })
}

/// A subscriber connection on `channel` from the first client that answers.
async fn open(
    clients: &[redis::Client],
    channel: &str,
    timeout: Duration,
) -> Result<PubSub, AdapterError> {
    let mut last = AdapterError::timed_out();
    for client in clients {
        let attempt = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        match tokio::time::timeout(timeout, attempt).await {
            Ok(Ok(pubsub)) => return Ok(pubsub),
            Ok(Err(e)) => last = e.into(),
            Err(_) => last = AdapterError::timed_out(),
        }
    }
    Err(last)
}

/// Publishes `payload` on `channel`; returns how many subscribers (of the node that took it)
/// received it.
pub async fn publish(conn: &RedisConn, channel: &str, payload: &str) -> Result<u64, AdapterError> {
    conn.query(redis::cmd("PUBLISH").arg(channel).arg(payload))
        .await
}
