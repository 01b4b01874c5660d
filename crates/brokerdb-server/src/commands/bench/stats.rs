//! Latency percentiles, throughput and the result table.

use std::time::Duration;

/// One (operation, implementation, callers) run.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Operation label.
    pub operation: &'static str,
    /// Who ran it: `brokerdb` or a pgbench variant.
    pub implementation: &'static str,
    /// Concurrent callers.
    pub callers: usize,
    /// Operations per second.
    pub throughput: f64,
    /// Latency percentiles (p50, p95, p99).
    pub p50: Duration,
    /// 95th percentile.
    pub p95: Duration,
    /// 99th percentile.
    pub p99: Duration,
}

impl Measurement {
    /// From raw latencies in microseconds over `elapsed`.
    pub fn from_latencies(
        operation: &'static str,
        implementation: &'static str,
        callers: usize,
        mut micros: Vec<u64>,
        elapsed: Duration,
    ) -> Self {
        micros.sort_unstable();
        let pick = |q: f64| {
            let idx = ((micros.len() as f64 - 1.0) * q).round() as usize;
            Duration::from_micros(micros.get(idx).copied().unwrap_or(0))
        };
        Self {
            operation,
            implementation,
            callers,
            throughput: micros.len() as f64 / elapsed.as_secs_f64().max(f64::EPSILON),
            p50: pick(0.50),
            p95: pick(0.95),
            p99: pick(0.99),
        }
    }
}

/// A Markdown table; `ratio` compares each row's throughput to the pgbench row running the same
/// statements (same operation and callers).
pub fn table(rows: &[Measurement]) -> String {
    let mut out = String::from(
        "| operation | callers | implementation | ops/s | p50 µs | p95 µs | p99 µs | ratio to pgbench (same statements) |\n|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let raw = rows
            .iter()
            .find(|x| {
                x.operation == r.operation
                    && x.callers == r.callers
                    && x.implementation.contains("same 4 statements")
            })
            .map(|x| x.throughput)
            .unwrap_or(f64::NAN);
        out.push_str(&format!(
            "| {} | {} | {} | {:.0} | {} | {} | {} | {:.2} |\n",
            r.operation,
            r.callers,
            r.implementation,
            r.throughput,
            r.p50.as_micros(),
            r.p95.as_micros(),
            r.p99.as_micros(),
            r.throughput / raw
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_throughput() {
        let m =
            Measurement::from_latencies("op", "x", 1, (1..=100).collect(), Duration::from_secs(2));
        assert_eq!(
            (m.p50.as_micros(), m.p95.as_micros(), m.p99.as_micros()),
            (51, 95, 99)
        );
        assert!((m.throughput - 50.0).abs() < 1e-9);
    }
}
