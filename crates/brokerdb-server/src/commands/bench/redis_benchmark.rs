//! Measuring one raw EVALSHA with `redis-benchmark` (Debian package `redis-tools`).

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};

use super::stats::Measurement;

/// Where redis-benchmark connects.
#[derive(Debug, Clone)]
pub enum Target {
    /// A TCP server.
    Tcp {
        /// Host name or address.
        host: String,
        /// TCP port.
        port: u16,
    },
    /// A Unix socket (the embedded server).
    Unix(std::path::PathBuf),
}

impl Target {
    /// redis-benchmark's arguments for this target (`-h … -p …` or `-s …`).
    fn args(&self) -> Vec<String> {
        match self {
            Self::Tcp { host, port } => {
                vec!["-h".into(), host.clone(), "-p".into(), port.to_string()]
            }
            Self::Unix(path) => vec!["-s".into(), path.display().to_string()],
        }
    }
}

/// The exact command line, for the report.
pub fn command_line(target: &Target, callers: usize, requests: u64, args: &[String]) -> String {
    format!(
        "redis-benchmark {} -c {callers} -n {requests} -r 1000 --csv {}",
        target.args().join(" "),
        args.join(" ")
    )
}

fn run(
    target: &Target,
    callers: usize,
    requests: u64,
    args: &[String],
) -> anyhow::Result<Vec<f64>> {
    let output = Command::new("redis-benchmark")
        .args(target.args())
        .args([
            "-c",
            &callers.to_string(),
            "-n",
            &requests.to_string(),
            "-r",
            "1000",
            "--csv",
        ])
        .args(args)
        .output()
        .context("cannot run redis-benchmark (Debian package redis-tools)")?;
    if !output.status.success() {
        bail!(
            "redis-benchmark failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    // Header, then: "test","rps","avg","min","p50","p95","p99","max" (latencies in ms).
    let row = stdout
        .lines()
        .nth(1)
        .context("redis-benchmark printed no result")?;
    let fields: Vec<f64> = row
        .split("\",\"")
        .skip(1)
        .filter_map(|f| f.trim_matches('"').parse().ok())
        .collect();
    if fields.len() < 6 {
        bail!("cannot read redis-benchmark's CSV: {row}");
    }
    Ok(fields)
}

/// Runs `args` (a command with `__rand_int__` in its key) from `callers` connections for about
/// `seconds` (a short probe sizes the request count).
pub fn measure(
    operation: &'static str,
    target: &Target,
    callers: usize,
    seconds: u64,
    args: &[String],
) -> anyhow::Result<(Measurement, String)> {
    let probe = run(target, callers, 2_000, args)?;
    let requests = ((probe[0] * seconds as f64) as u64).max(2_000);
    let f = run(target, callers, requests, args)?;
    let ms = |v: f64| Duration::from_micros((v * 1000.0) as u64);
    let mut m = Measurement::from_latencies(
        operation,
        "redis-benchmark, same EVALSHA",
        callers,
        Vec::new(),
        Duration::from_secs(1),
    );
    m.throughput = f[0];
    (m.p50, m.p95, m.p99) = (ms(f[3]), ms(f[4]), ms(f[5]));
    Ok((
        m.in_group("redis-benchmark"),
        command_line(target, callers, requests, args),
    ))
}
