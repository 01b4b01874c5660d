//! Latency percentiles, throughput and the result table.

use std::time::Duration;

/// One (operation, implementation, callers) run.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Operation label.
    pub operation: &'static str,
    /// Who ran it: `brokerdb`, a pgbench variant, a raw Redis client, redis-benchmark.
    pub implementation: String,
    /// Rows are compared with the baseline row of the same operation, callers and group.
    pub group: String,
    /// This row is its group's raw reference (ratio 1).
    pub baseline: bool,
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
        implementation: impl Into<String>,
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
            implementation: implementation.into(),
            group: String::new(),
            baseline: false,
            callers,
            throughput: micros.len() as f64 / elapsed.as_secs_f64().max(f64::EPSILON),
            p50: pick(0.50),
            p95: pick(0.95),
            p99: pick(0.99),
        }
    }
}

impl Measurement {
    /// The same row, as the raw reference of `group`.
    #[must_use]
    pub fn baseline_of(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self.baseline = true;
        self
    }

    /// The same row, compared with the baseline of `group`.
    #[must_use]
    pub fn in_group(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self
    }
}

/// A Markdown table; `ratio` compares each row's throughput to its group's raw reference (for
/// PostgreSQL pgbench running the same statements; for Redis a raw client sending the same
/// EVALSHAs) at the same operation and callers.
pub fn table(rows: &[Measurement]) -> String {
    let mut out = String::from(
        "| operation | callers | implementation | ops/s | p50 µs | p95 µs | p99 µs | ratio to raw (same statements / scripts) |\n|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let raw = raw_throughput(rows, r);
        out.push_str(&format!(
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} |\n",
            r.operation,
            r.callers,
            r.implementation,
            r.throughput,
            r.p50.as_micros(),
            r.p95.as_micros(),
            r.p99.as_micros(),
            ratio(r.throughput, raw)
        ));
    }
    out
}

/// The throughput of `r`'s raw reference in `rows` (same operation, callers and group), or NaN.
pub fn raw_throughput(rows: &[Measurement], r: &Measurement) -> f64 {
    rows.iter()
        .find(|x| {
            x.operation == r.operation && x.callers == r.callers && x.group == r.group && x.baseline
        })
        .map(|x| x.throughput)
        .unwrap_or(f64::NAN)
}

/// `x / raw` with two decimals, or `—` when the row has no raw reference.
pub fn ratio(x: f64, raw: f64) -> String {
    if raw.is_finite() && raw > 0.0 {
        format!("{:.2}", x / raw)
    } else {
        "—".to_owned()
    }
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
