//! Integration tests of the service and the CLI, against real PostgreSQL and Redis.

mod api;
mod api_walkthrough;
mod audit_cli;
mod backup;
mod bench_report;
mod bench_soak;
mod browser;
mod cli;
mod crash;
mod fail_fast;
mod jobs_cli;
mod openapi;
mod outbox_relay;
mod private_pg;
mod readiness;
mod repair;
mod repair_page;
mod seed;
mod support;

/// Test result: any error fails the test with its message.
pub type TestResult = Result<(), Box<dyn std::error::Error>>;
