//! `brokerdb`: the data service and its command line.
//!
//! - `serve`: the HTTP service (the `/v1` API, `/healthz`, `/readyz`, `/metrics`, `/openapi.json`),
//!   the audit sealer, the job worker (unless `WORKER_ENABLED=false`), the outbox relay (unless
//!   `OUTBOX_RELAY_ENABLED=false`) and periodic checkpoints; without `DATABASE_URL` /
//!   `REDIS_URL` it starts private servers.
//! - `migrate` (and `migrate status`): apply or list the schema migrations.
//! - `audit verify | seal | checkpoint | keygen`: the tamper-evident audit trail.
//! - `seed`: a demo data set written through the library (re-runs write nothing twice).
//! - `token create | list | revoke`: the API's bearer tokens.
//! - `worker`: the background job worker, the sweeps' scheduler and the outbox relay (`serve`
//!   runs them too).
//! - `jobs list | retry | purge`: the job queue and its dead letters.
//! - `outbox list | retry`: the template-invalidation outbox and its failed rows.
//! - `repair list | preview | execute | runs` and `doctor`: the database repair console (schema
//!   drift and the hash-verified playbooks that repair it; staging and development only).
//! - `bench`: hot operations through the library against the same SQL in pgbench and
//!   `redis-benchmark`; `bench --soak DURATION`: mixed HTTP load at a fixed rate, sampled over
//!   time (latency, errors, RSS, connections) into a CSV and an SVG chart.
//!
//! Everything but argument parsing, logging and the runtime lives in the library crate
//! (`brokerdb_server`).

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc's allocator: under 16 concurrent callers on a small machine the
/// glibc arenas' locks showed up in profiles of the cached read paths (`brokerdb bench --only
/// cache`), where an answer costs little more than a few allocations.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = brokerdb_server::cli::Cli::parse();
    let default = match cli.command {
        brokerdb_server::cli::Command::Bench(_) => brokerdb_server::logging::BENCH_DEFAULT,
        _ => brokerdb_server::logging::DEFAULT,
    };
    tracing_subscriber::fmt()
        .with_env_filter(brokerdb_server::logging::filter(
            std::env::var("RUST_LOG").ok().as_deref(),
            default,
        ))
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(brokerdb_server::commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            // One line: the context chain joined with ": ".
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
