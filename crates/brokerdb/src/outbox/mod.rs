//! Delivery of the template-invalidation outbox: the relay that turns committed outbox rows into
//! published signals, at least once.
//!
//! A template change writes its
//! [`TemplateInvalidationSignal`](crate::repo::templates::TemplateInvalidationSignal) into `template_invalidation_outbox`
//! in the same transaction as the change
//! ([`persist_invalidation_outbox`](crate::repo::templates::persist_invalidation_outbox)), so a
//! committed change always has its signal and a rolled-back one never does. The relay
//! ([`deliver_round`], run in a loop by [`spawn_relay`]) then, as the system role, in one
//! transaction per batch:
//! 1. claims the oldest due pending rows with `FOR UPDATE SKIP LOCKED`: relays running side by
//!    side (in several processes) take disjoint rows, so no row is published twice in a round;
//! 2. hands each to an [`OutboxPublisher`] (the Redis one publishes on the invalidation
//!    channels), up to 32 at once, in claim order;
//! 3. marks the published rows `delivered`; a row whose publish failed gets its error kept
//!    (`last_error`), one more attempt counted and its next attempt pushed back exponentially
//!    (with jitter), and becomes `failed` after [`RelaySettings::max_attempts`];
//! 4. commits.
//!
//! **At least once.** A relay that dies after publishing and before its commit leaves the rows
//! pending (the transaction rolls back and the row locks go with it), so the next round publishes
//! them again. Consumers must therefore be idempotent: an invalidation applied twice is harmless.
//!
//! Metrics: `brokerdb_outbox_delivered_total`, `brokerdb_outbox_retries_total`,
//! `brokerdb_outbox_failed_total` (rows that ran out of attempts), `brokerdb_outbox_relay_errors_total`
//! (rounds that failed on the database) and `brokerdb_outbox_lag_seconds`, the age of the oldest
//! undelivered row (0 when none).

mod admin;
mod deliver;
mod relay;

pub use admin::{OutboxRow, list, retry_failed};
pub use deliver::{OutboxMessage, OutboxPublisher, PublishError, RoundReport, deliver_round, lag};
pub use relay::{RelayHandle, RelaySettings, spawn_relay};
