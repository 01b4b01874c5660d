//! Running one operation from N concurrent callers for a fixed time.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One call of a measured operation: `(caller index, iteration)` → done.
pub type Call = Arc<dyn Fn(usize, u64) -> CallFuture + Send + Sync>;
/// Its future.
pub type CallFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// `callers` tasks run `call` back to back for `seconds` after a one-second warm-up; returns
/// every latency in microseconds and the measured wall time.
pub async fn run(
    call: &Call,
    callers: usize,
    seconds: u64,
) -> anyhow::Result<(Vec<u64>, Duration)> {
    round(call, callers, Duration::from_secs(1), 0).await?;
    let started = Instant::now();
    let latencies = round(call, callers, Duration::from_secs(seconds), 1 << 32).await?;
    Ok((latencies, started.elapsed()))
}

async fn round(
    call: &Call,
    callers: usize,
    limit: Duration,
    first: u64,
) -> anyhow::Result<Vec<u64>> {
    let tasks: Vec<_> = (0..callers)
        .map(|caller| {
            let call = call.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let end = Instant::now() + limit;
                let mut i = first;
                while Instant::now() < end {
                    let started = Instant::now();
                    call(caller, i).await?;
                    latencies
                        .push(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
                    i += 1;
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(all)
}
