//! Integration tests of the Redis adapters against real Redis: every adapter test runs twice,
//! on standalone Redis (`REDIS_URL` or a private server, random key prefix) and on a private
//! 3-master Redis Cluster the harness starts itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod support;

mod audit;
mod auth_enrollment;
mod auth_replay;
mod auth_sessions;
mod canonicalizer;
mod conn;
mod crypto;
mod failover;
mod faults;
mod forwarder_idempotency;
mod forwarder_lock;
mod outbox;
mod policy_invalidation;
mod policy_rate_limit;
mod props;
mod scripts;
mod ssrf_dns;
mod ssrf_signal;
mod tls;
