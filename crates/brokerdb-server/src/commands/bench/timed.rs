//! Running operations from N concurrent callers for a fixed time.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One call of a measured operation: `(caller index, iteration)` → done.
pub type Call = Arc<dyn Fn(usize, u64) -> CallFuture + Send + Sync>;
/// Its future.
pub type CallFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// `a` and `b` alternately, one second each, `seconds` times after a warm-up of each: machine
/// noise (other processes) then hits both alike, so their ratio stays meaningful. Returns the
/// latencies (µs) and wall time of each.
pub async fn run_interleaved(
    a: &Call,
    b: &Call,
    callers: usize,
    seconds: u64,
) -> anyhow::Result<[(Vec<u64>, Duration); 2]> {
    round(a, callers, Duration::from_secs(1), 0).await?;
    round(b, callers, Duration::from_secs(1), 0).await?;
    let mut out = [(Vec::new(), Duration::ZERO), (Vec::new(), Duration::ZERO)];
    for i in 0..seconds {
        for (call, slot) in [a, b].into_iter().zip(out.iter_mut()) {
            let started = Instant::now();
            let first = (i + 1) << 32;
            slot.0
                .extend(round(call, callers, Duration::from_secs(1), first).await?);
            slot.1 += started.elapsed();
        }
    }
    Ok(out)
}

/// `callers` tasks run `call` back to back for `limit`; every latency (µs). `first` numbers
/// the iterations (each caller counts up from it).
pub async fn round(
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
