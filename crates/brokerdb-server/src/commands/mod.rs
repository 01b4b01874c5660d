//! One module per subcommand.

pub mod audit;
pub mod bench;
pub mod doctor;
pub mod jobs;
pub mod migrate;
pub mod outbox;
pub mod repair;
pub mod seed;
pub mod serve;
pub mod table;
pub mod token;
pub mod worker;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::run(*args).await.map(|()| ExitCode::SUCCESS),
        Command::Migrate(args) => migrate::run(args).await,
        Command::Bench(args) => bench::run(args).await,
        Command::Audit(args) => audit::run(args).await,
        Command::Token(args) => token::run(args).await,
        Command::Seed(args) => seed::run(args).await,
        Command::Worker(args) => worker::run(args).await,
        Command::Jobs(args) => jobs::run(args).await,
        Command::Outbox(args) => outbox::run(args).await,
        Command::Repair(args) => repair::run(args).await,
        Command::Doctor(args) => doctor::run(args).await,
    }
}
