//! `brokerdb serve`.

use anyhow::Context;
use brokerdb::audit::{self, CheckpointSigner, SealerSettings};

use crate::app::{AppState, Application};
use crate::checkpoints::{self, CheckpointClock};
use crate::cli::ServeArgs;
use crate::services::{Postgres, Redis, check_pool, pool};

/// Starts (or connects to) PostgreSQL and Redis, checks both, binds, and serves until Ctrl-C or
/// SIGTERM; embedded servers are stopped after the last request finishes.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let redis_url = args.redis_url.as_deref().filter(|u| !u.is_empty());
    // Check what needs no server first, so bad configuration fails fast.
    if let Some(url) = redis_url {
        crate::services::redis_client(url, args.redis_ca_file.as_deref())?;
    }
    let cursor_key = args.data.cursor_key()?;
    let signer = args
        .audit
        .audit_checkpoint_key_file
        .as_deref()
        .map(CheckpointSigner::read_file)
        .transpose()
        .context("AUDIT_CHECKPOINT_KEY_FILE cannot be used")?;
    let postgres = Postgres::start(&args.connection).await?;
    let redis = Redis::start(
        redis_url,
        args.redis_ca_file.as_deref(),
        &args.connection.data_dir,
    )
    .await?;
    let runtime = pool(&postgres.targets.runtime, args.pool_size)?;
    let system = pool(&postgres.targets.system, args.pool_size)?;
    check_pool(&runtime, &postgres.targets.runtime).await?;
    check_pool(&system, &postgres.targets.system).await?;
    let manager = redis.connect().await?;
    let adapters = brokerdb_redis::RedisConn::standalone(redis.client()?, args.redis.settings())
        .map_err(|e| anyhow::anyhow!("cannot set up the Redis adapters: {e}"))?;
    let mut state = AppState::new(runtime, system, manager, args.data.settings(), cursor_key)
        .await
        .map_err(crate::config::explain_connect_error)?
        .with_redis_adapters(adapters);
    let sealer = audit::spawn_sealer(
        state.db.clone(),
        SealerSettings {
            interval: args.audit.audit_seal_interval,
            max_merge_delay: args.audit.audit_max_merge_delay,
            ..SealerSettings::default()
        },
    );
    let checkpointer = match (signer, args.audit.audit_checkpoint_dir.clone()) {
        (Some(signer), Some(dir)) => {
            state.checkpoints = CheckpointClock::started_now();
            Some(checkpoints::spawn(
                state.db.clone(),
                signer,
                dir,
                args.audit.audit_checkpoint_interval,
                state.checkpoints.clone(),
            ))
        }
        _ => None,
    };
    let app = Application::bind(args.listen, state).await?;
    let addr = app.local_addr()?;
    tracing::info!(
        %addr,
        postgres = if postgres.embedded.is_some() { "embedded" } else { "external" },
        redis = if redis.embedded.is_some() { "embedded" } else { "external" },
        "brokerdb listening on http://{addr}"
    );
    app.run_until(shutdown_signal()).await?;
    tracing::info!("shutting down");
    if let Some(task) = checkpointer {
        task.abort();
    }
    // The last round commits before the servers stop: nothing committed stays unsealed.
    sealer.stop().await;
    drop(redis);
    drop(postgres);
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}
