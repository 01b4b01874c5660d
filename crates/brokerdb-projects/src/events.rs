//! The project channel: live events of one project over Redis pub/sub.
//!
//! **Channel** `<prefix>project:{<tenantId>}:<projectId>` (default prefix `broker:projects:`),
//! both ids percent-encoded with the core's key encoding (business ids encode to themselves):
//! two tenants never share a channel, even for equal project ids, and the prefix keeps
//! deployments sharing one Redis apart. Built by [`ProjectEvents::channel`].
//!
//! **Message** one JSON object per event, the `type` first:
//!
//! ```json
//! {"type":"artifact_updated","projectId":"prj_…","artifactId":"art_…","path":"docs/prd.md","version":3,"timestamp":"2025-01-31T12:00:00.000Z"}
//! ```
//!
//! **When.** Publish *after* the transaction that changed the artifact has committed (the
//! caller's job): a subscriber that reacts by reading PostgreSQL then sees the change. Pub/sub is
//! best-effort: a subscriber that is away (or whose connection is being re-established) misses
//! what is published meanwhile, so a consumer that must not miss a version re-reads the
//! artifacts after [`ProjectEvents::subscribe`] returns. Subscriptions come back by themselves
//! after a lost connection (the core's pub/sub, [`brokerdb_core::redis::pubsub`]).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use brokerdb_core::redis::push_encoded_key_part;
use brokerdb_core::redis::{AdapterError, RedisConn, Subscription, normalize_prefix, pubsub};
use brokerdb_core::scalar::{TenantId, Timestamp};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::ids::{ArtifactId, ProjectId};

/// The channel prefix used when none is given.
pub const DEFAULT_PREFIX: &str = "broker:projects:";
/// Events a subscriber may have waiting before newer ones are dropped (a subscriber that does
/// not keep up loses events, as with any pub/sub consumer that is away).
pub const SUBSCRIBER_BUFFER: usize = 1024;

/// An artifact was created or got a new version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactUpdated {
    /// Its project.
    pub project_id: ProjectId,
    /// The artifact.
    pub artifact_id: ArtifactId,
    /// Its path within the project.
    pub path: String,
    /// Its version after the change.
    pub version: i64,
    /// When the change was made.
    pub timestamp: Timestamp,
}

/// An event on a project's channel (`type` names the variant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProjectEvent {
    /// `{"type":"artifact_updated", …}`.
    ArtifactUpdated(ArtifactUpdated),
}

impl ProjectEvent {
    /// The project the event is about.
    pub fn project_id(&self) -> &ProjectId {
        match self {
            Self::ArtifactUpdated(e) => &e.project_id,
        }
    }
}

/// Publishes and subscribes to project channels (module docs).
#[derive(Debug, Clone)]
pub struct ProjectEvents {
    conn: RedisConn,
    prefix: String,
}

impl ProjectEvents {
    /// Channels over `conn` with [`DEFAULT_PREFIX`]. Subscribing needs pub/sub sources (a
    /// standalone [`RedisConn`] has them; see `RedisConn::with_subscribers`).
    pub fn new(conn: RedisConn) -> Self {
        Self {
            conn,
            prefix: DEFAULT_PREFIX.to_owned(),
        }
    }

    /// The same channels under `prefix` (trimmed; empty → [`DEFAULT_PREFIX`]; a `:` is appended
    /// unless present).
    #[must_use]
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.prefix = normalize_prefix(Some(prefix), DEFAULT_PREFIX);
        self
    }

    /// The channel of `project` of `tenant`: `<prefix>project:{<tenant>}:<project>`.
    pub fn channel(&self, tenant: &TenantId, project: &ProjectId) -> String {
        let mut channel = String::with_capacity(self.prefix.len() + 12 + 2 * 128);
        channel.push_str(&self.prefix);
        channel.push_str("project:{");
        push_encoded_key_part(&mut channel, tenant.as_str());
        channel.push_str("}:");
        push_encoded_key_part(&mut channel, project.as_str());
        channel
    }

    /// Publishes `event` on its project's channel of `tenant`; returns how many subscribers (of
    /// the node that took it) received it. Call it after the artifact's change has committed.
    pub async fn publish_artifact_updated(
        &self,
        tenant: &TenantId,
        event: &ArtifactUpdated,
    ) -> Result<u64, AdapterError> {
        let channel = self.channel(tenant, &event.project_id);
        let payload = serde_json::to_string(&ProjectEvent::ArtifactUpdated(event.clone()))
            .map_err(|_| AdapterError::Unexpected {
                message: "project event cannot be encoded".into(),
            })?;
        pubsub::publish(&self.conn, &channel, &payload).await
    }

    /// The events of `project` of `tenant` published from now on, as a stream. Resolves once
    /// Redis has confirmed the subscription (Redis unreachable → `unavailable`; no pub/sub
    /// source → `dependency_missing`). Messages that are not a [`ProjectEvent`] of this project
    /// are dropped. Dropping the stream unsubscribes.
    pub async fn subscribe(
        &self,
        tenant: &TenantId,
        project: &ProjectId,
    ) -> Result<ProjectEventStream, AdapterError> {
        let (tx, rx) = mpsc::channel(SUBSCRIBER_BUFFER);
        let expected = project.clone();
        let handler = move |event: ProjectEvent| {
            if event.project_id() != &expected {
                return;
            }
            if tx.try_send(event).is_err() {
                tracing::warn!("project event dropped: the subscriber is not keeping up");
            }
        };
        let subscription = pubsub::subscribe(
            &self.conn,
            self.channel(tenant, project),
            decode,
            Arc::new(handler),
        )
        .await?;
        Ok(ProjectEventStream {
            events: rx,
            _subscription: subscription,
        })
    }
}

fn decode(payload: &[u8]) -> Option<ProjectEvent> {
    serde_json::from_slice(payload).ok()
}

/// The events of one project's channel ([`ProjectEvents::subscribe`]); unsubscribes when
/// dropped.
#[derive(Debug)]
pub struct ProjectEventStream {
    events: mpsc::Receiver<ProjectEvent>,
    _subscription: Subscription,
}

impl Stream for ProjectEventStream {
    type Item = ProjectEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ProjectEvent>> {
        self.events.poll_recv(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_the_documented_json_and_reads_back() -> Result<(), Box<dyn std::error::Error>> {
        let event = ProjectEvent::ArtifactUpdated(ArtifactUpdated {
            project_id: ProjectId::parse("prj_1")?,
            artifact_id: ArtifactId::parse("art_1")?,
            path: "docs/prd.md".into(),
            version: 3,
            timestamp: Timestamp::parse("2025-01-31T12:00:00Z")?,
        });
        let json = serde_json::to_string(&event)?;
        assert_eq!(
            json,
            r#"{"type":"artifact_updated","projectId":"prj_1","artifactId":"art_1","path":"docs/prd.md","version":3,"timestamp":"2025-01-31T12:00:00.000Z"}"#
        );
        assert_eq!(decode(json.as_bytes()), Some(event));
        assert_eq!(decode(br#"{"type":"other"}"#), None);
        Ok(())
    }
}
