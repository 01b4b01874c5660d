//! Integration tests of the read cache against real PostgreSQL and Redis.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod busting;
mod fail_open;
mod negative;
mod policy_bus;
mod props;
mod single_flight;
mod support;
